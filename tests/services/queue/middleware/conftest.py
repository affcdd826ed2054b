"""A StubBroker with our middleware in the production order, and a helper to run one message."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from prometheus_client import CollectorRegistry

from services.queue.middleware.final_failure import FinalFailure
from services.queue.middleware.log_context import LogContext
from services.queue.middleware.outcome_metrics import OutcomeMetrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def outcomes(registry: CollectorRegistry) -> OutcomeMetrics:
    return OutcomeMetrics(registry)


@pytest.fixture
def stub(outcomes: OutcomeMetrics) -> Iterator[StubBroker]:
    # the order of services.queue.broker: ours before Retries, so they see its decision
    broker = StubBroker(middleware=[outcomes, FinalFailure(), LogContext(),
                                    Retries(max_retries=0, min_backoff=10, max_backoff=20)])
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def run_one(broker: StubBroker, actor: dramatiq.Actor, *args: object) -> None:
    """Send one message and wait until it (and every retry) is done."""
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        actor.send(*args)
        broker.join(actor.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
