"""Our Dramatiq middleware: log context on records, outcome metrics."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker
from prometheus_client import CollectorRegistry

from services.core.attempts import on_final_failure
from services.core.queue_middleware import ContextFilter, LogContext, OutcomeMetrics


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_inside_an_actor_carry_job_and_user() -> None:
    registry = CollectorRegistry()
    outcomes = OutcomeMetrics(registry)
    broker = StubBroker(middleware=[LogContext(), outcomes])
    capture = Capture()
    logger = logging.getLogger("test.actor")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)

    def work(job_id: str, username: str, repo: dict) -> None:
        logger.info("working")

    # wrapped like the real actors (on_final_failure), and sent positionally like them
    wrapped = on_final_failure(0, (), lambda *args, **kwargs: None)(work)
    actor = dramatiq.Actor(wrapped, broker=broker, actor_name="work", queue_name="q", priority=0, options={})
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        actor.send("a" * 32, "octocat", {"name": "Hello-World"})
        broker.join("q")
        worker.join()
    finally:
        worker.stop()
        logger.removeHandler(capture)
    [record] = capture.records
    assert (record.job_id, record.username, record.repo, record.actor) == ("a" * 32, "octocat", "Hello-World",
                                                                           "work")
    logger.info("outside")
    assert registry.get_sample_value("messages_processed_total", {"actor": "work", "outcome": "ok"}) == 1
    assert outcomes.in_flight == 0 and outcomes.last_message_at is not None
