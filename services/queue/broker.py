"""The Dramatiq broker, chosen by settings, with its middleware chosen explicitly.

- ``CLOUDFOLIO_BROKER_URL=amqp://...``: Dramatiq's RabbitMQ broker (durable queues, persistent
  messages, ``confirm_delivery=True`` so a send returns only once RabbitMQ has the message).
- no broker URL: Dramatiq's ``StubBroker``; :class:`services.queue.workers.InProcessWorkers` runs
  its worker threads inside the same process (the embedded default).

Middleware, in order: ``AgeLimit``, ``TimeLimit`` (every actor sets a ``time_limit`` below
RabbitMQ's 30-minute consumer timeout), ``ShutdownNotifications``, ``Callbacks``, ``Pipelines``,
ours (:class:`Tracing` first, so its span encloses the others' work, :class:`OutcomeMetrics`,
:class:`FinalFailure`, :class:`LogContext`), ``Retries`` (each
actor states its ``max_retries``; backoff from settings), ``CurrentMessage`` (a step's dispatcher names
the delivery it runs in), and Dramatiq's ``Prometheus``. Ours sit
before ``Retries`` because Dramatiq runs ``after_*`` hooks in reverse order: they see Retries'
decision.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.middleware.prometheus import Prometheus
from prometheus_client import CollectorRegistry

from services.core.errors import DependencyUnavailable
from services.core.settings import Settings
from services.queue.middleware.final_failure import FinalFailure
from services.queue.middleware.log_context import LogContext
from services.queue.middleware.outcome_metrics import OutcomeMetrics
from services.queue.middleware.prometheus_bridge import DramatiqMetricsBridge
from services.queue.middleware.tracing import Tracing

#: RabbitMQ cancels a consumer holding an unacked message for 30 minutes (consumer_timeout);
#: every actor's time limit stays below this, in milliseconds.
RABBITMQ_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000


class BrokerUnavailable(DependencyUnavailable):
    """The broker could not be reached, or refused or lost a message we sent; nothing was accepted."""

    service = "the queue broker"


@dataclass
class BrokerBundle:
    """A broker together with the middleware instances callers need to reach."""

    broker: dramatiq.Broker
    registry: CollectorRegistry
    outcomes: OutcomeMetrics
    embedded: bool


def build_broker(settings: Settings, registry: CollectorRegistry | None = None) -> BrokerBundle:
    """Build the broker the settings name, with our middleware stack."""
    registry = registry if registry is not None else CollectorRegistry()
    outcomes = OutcomeMetrics(registry)
    prometheus = Prometheus()
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=RABBITMQ_CONSUMER_TIMEOUT_MS // 2),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Tracing(),
        outcomes,
        FinalFailure(),
        LogContext(),
        # max_retries=0 here: every actor states its own, so nothing retries by accident
        Retries(max_retries=0, min_backoff=settings.retry_min_backoff_ms, max_backoff=settings.retry_max_backoff_ms),
        CurrentMessage(),
        prometheus,
    ]
    broker: dramatiq.Broker
    if settings.broker_url:
        broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware)
    else:
        broker = StubBroker(middleware=middleware)
    registry.register(DramatiqMetricsBridge(prometheus))
    return BrokerBundle(broker=broker, registry=registry, outcomes=outcomes, embedded=not settings.broker_url)


def boot_process(broker: dramatiq.Broker) -> None:
    """Run the broker's process-boot hooks, undoing the environment Dramatiq's Prometheus sets.

    That middleware points ``PROMETHEUS_MULTIPROC_DIR`` at a shared temp folder for the benefit of
    Dramatiq's own CLI; left in the environment it would switch every process we start later into
    prometheus_client's multiprocess mode.
    """
    saved = {name: os.environ.get(name) for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")}
    broker.emit_after("process_boot")
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
