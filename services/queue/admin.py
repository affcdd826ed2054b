"""Queue inspection and dead-letter replay (``cloudfolio queues``, ``cloudfolio dlq``, the dashboard).

Depths come from passive queue declarations over RabbitMQ (no management plugin needed), or, for
the embedded broker, from its in-memory queues (:func:`embedded_depths`). Replay takes messages
from ``<queue>.XQ`` one at a time, resets their retry count, sends them back to ``<queue>``
through the broker (with publisher confirms), and only then acks them in the dead-letter queue,
so a crash mid-replay can duplicate a message (harmless: actors are idempotent) but never lose one.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import pika
from dramatiq.common import dq_name, q_name, xq_name
from pika.exceptions import AMQPError, ChannelClosedByBroker

from services.core.redaction import redact_url
from services.queue.broker import BrokerUnavailable


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int | None  # None when the queue does not exist yet
    consumers: int | None


def connect(url: str) -> pika.BlockingConnection:
    """A short-lived blocking connection for administration (two attempts, 5 s socket timeout);
    :class:`BrokerUnavailable` when RabbitMQ does not answer."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 2
    parameters.socket_timeout = 5
    try:
        return pika.BlockingConnection(parameters)
    except (AMQPError, OSError) as exc:
        raise BrokerUnavailable(f"RabbitMQ at {redact_url(url)} is not reachable: {type(exc).__name__}") from exc


def queue_depths(url: str, queues: list[str]) -> list[QueueDepth]:
    """Ready messages and consumers of each queue and its delay and dead-letter queues."""
    depths = []
    connection = connect(url)
    try:
        channel = connection.channel()
        for queue in queues:
            for name in (queue, dq_name(queue), xq_name(queue)):
                try:
                    result = channel.queue_declare(name, passive=True)
                    depths.append(QueueDepth(name, result.method.message_count, result.method.consumer_count))
                except ChannelClosedByBroker:
                    depths.append(QueueDepth(name, None, None))
                    channel = connection.channel()
    finally:
        connection.close()
    return depths


def embedded_depths(broker: dramatiq.Broker, queues: list[str]) -> list[QueueDepth]:
    """The same rows for the embedded ``StubBroker``: its queue, delay queue and dead letters of each."""
    stub_queues = getattr(broker, "queues", {})
    dead = getattr(broker, "dead_letters_by_queue", {})
    depths = []
    for queue in queues:
        for name in (queue, dq_name(queue)):
            held = stub_queues.get(name)
            depths.append(QueueDepth(name, None if held is None else held.qsize(), None))
        depths.append(QueueDepth(xq_name(queue), len(dead.get(queue, [])), None))
    return depths


def replay_dead_letters(broker: dramatiq.Broker, url: str, queue: str, limit: int | None = None) -> int:
    """Move up to ``limit`` messages from ``queue``'s dead-letter queue back to ``queue``."""
    encoder = dramatiq.get_encoder()
    moved = 0
    connection = connect(url)
    try:
        channel = connection.channel()
        while limit is None or moved < limit:
            try:
                method, _properties, body = channel.basic_get(xq_name(queue), auto_ack=False)
            except ChannelClosedByBroker:
                break  # no dead-letter queue yet: nothing was ever dead-lettered
            if method is None:
                break
            message = dramatiq.Message(**encoder.decode(body))
            options = {k: v for k, v in message.options.items() if k not in {"retries", "traceback", "eta"}}
            broker.enqueue(message.copy(queue_name=q_name(message.queue_name), options=options))
            channel.basic_ack(method.delivery_tag)
            moved += 1
    finally:
        connection.close()
    return moved
