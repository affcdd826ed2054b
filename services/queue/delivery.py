"""One message taken from a queue with ``basic_get`` and settled by hand (single-task mode).

``cloudfolio train --from-queue`` takes one ``train_model`` message, keeps the AMQP connection
alive while the work runs in another thread, then acks it (done) or rejects it (dead-lettered to
``<queue>.XQ`` through the queue's dead-letter routing).
"""

from __future__ import annotations

import dramatiq
import pika
from pika.exceptions import ChannelClosedByBroker

from services.queue.admin import connect


class Delivery:
    """One message taken from a queue with ``basic_get``, not yet acknowledged."""

    def __init__(self, connection: pika.BlockingConnection, channel: object, tag: int,
                 message: dramatiq.Message) -> None:
        self._connection = connection
        self._channel = channel
        self._tag = tag
        self.message = message

    @property
    def kwargs(self) -> dict:
        return dict(self.message.kwargs)

    def keep_alive(self, seconds: float) -> None:
        """Serve AMQP heartbeats while the work goes on in another thread."""
        self._connection.process_data_events(time_limit=seconds)

    def ack(self) -> None:
        self._channel.basic_ack(self._tag)
        self._connection.close()

    def reject(self) -> None:
        """Dead-letter it: the queue's dead-letter routing sends it to ``<queue>.XQ``."""
        self._channel.basic_nack(self._tag, requeue=False)
        self._connection.close()


def take_one(url: str, queue: str) -> Delivery | None:
    """Take one message from ``queue`` (None when empty or the queue does not exist yet)."""
    connection = connect(url)
    channel = connection.channel()
    try:
        method, _properties, body = channel.basic_get(queue, auto_ack=False)
    except ChannelClosedByBroker:
        connection.close()
        return None
    if method is None:
        connection.close()
        return None
    return Delivery(connection, channel, method.delivery_tag, dramatiq.Message(**dramatiq.get_encoder().decode(body)))
