"""Queue depths of the embedded broker: its queues, delay queues and dead letters, as RabbitMQ's are listed."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from services.queue.admin import QueueDepth, embedded_depths


def test_the_embedded_brokers_depths_count_ready_delayed_and_dead_messages() -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")

    @dramatiq.actor(broker=broker, queue_name="work")
    def job() -> None:
        """Never run: the test only counts messages."""

    job.send()
    job.send()
    job.send_with_options(delay=60_000)
    consumer = broker.consume("work", timeout=100)
    consumer.nack(next(consumer))  # one message dead-lettered
    assert embedded_depths(broker, ["work", "never-declared"]) == [
        QueueDepth("work", 1, None), QueueDepth("work.DQ", 1, None), QueueDepth("work.XQ", 1, None),
        QueueDepth("never-declared", None, None), QueueDepth("never-declared.DQ", None, None),
        QueueDepth("never-declared.XQ", 0, None)]
