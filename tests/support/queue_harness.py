"""RabbitMQ for queue tests: reachable, or skipped locally / failed under CI."""

from __future__ import annotations

import os

import pika

from tests.support.services import unavailable

RABBITMQ_URL = os.environ.get("CLOUDFOLIO_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def require_rabbitmq() -> str:
    parameters = pika.URLParameters(RABBITMQ_URL)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 2
    try:
        pika.BlockingConnection(parameters).close()
    except Exception as exc:
        unavailable(f"RabbitMQ is not reachable at {RABBITMQ_URL}: {exc!r} (scripts/test.sh starts it)")
    return RABBITMQ_URL
