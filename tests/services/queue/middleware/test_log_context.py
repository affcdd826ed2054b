"""LogContext and OutcomeMetrics: log records of a message carry its job and user; outcomes counted."""

from __future__ import annotations

import functools
import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker
from prometheus_client import CollectorRegistry

from services.core.logs import ContextFilter
from services.queue.middleware.outcome_metrics import OutcomeMetrics
from tests.services.queue.middleware.conftest import run_one


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_inside_an_actor_carry_job_and_user_and_none_outside(
    stub: StubBroker, registry: CollectorRegistry, outcomes: OutcomeMetrics
) -> None:
    capture = Capture()
    logger = logging.getLogger("test.actor")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)

    def work(job_id: str, username: str, repo: dict) -> None:
        logger.info("working")

    @functools.wraps(work)  # wrapped like the real actors (delay_rate_limits), and sent positionally like them
    def wrapped(*args: object, **kwargs: object) -> None:
        work(*args, **kwargs)

    actor = dramatiq.Actor(wrapped, broker=stub, actor_name="work", queue_name="q", priority=0, options={})
    try:
        run_one(stub, actor, "a" * 32, "octocat", {"name": "Hello-World"})
        logger.info("outside")
    finally:
        logger.removeHandler(capture)
    inside, outside = capture.records
    assert (inside.job_id, inside.username, inside.repo, inside.actor) == ("a" * 32, "octocat", "Hello-World", "work")
    assert not any(hasattr(outside, name) for name in ("job_id", "username", "repo", "actor")), \
        "the context is cleared once the message is done"
    assert registry.get_sample_value("messages_processed_total", {"actor": "work", "outcome": "ok"}) == 1
    assert outcomes.in_flight == 0 and outcomes.last_message_at is not None
