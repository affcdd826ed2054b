"""Whether RabbitMQ answers, checked with a short-lived connection at most every ``ttl`` seconds.

Used by the router's ``/ready`` and a worker's ``/health``. The embedded broker lives in the
process, so with no URL the answer is always ``connected``.
"""

from __future__ import annotations

import threading
import time

import pika

from services.core.redaction import redact_url
from services.queue.broker import BrokerUnavailable


class BrokerProbe:
    """A cached reachability check of one broker URL.

    Parameters:
      url(str): the AMQP URL; empty for the embedded broker.
      ttl(float): seconds a result is reused. Defaults to 5.
    """

    def __init__(self, url: str, ttl: float = 5.0) -> None:
        self.url = url
        self.ttl = ttl
        self._checked_at = 0.0
        self._state = "unknown"
        self._lock = threading.Lock()

    def state(self) -> str:
        if not self.url:
            return "connected"
        with self._lock:
            if time.monotonic() - self._checked_at > self.ttl:
                self._state = self._probe()
                self._checked_at = time.monotonic()
            return self._state

    def _probe(self) -> str:
        parameters = pika.URLParameters(self.url)
        parameters.socket_timeout = 2
        parameters.blocked_connection_timeout = 2
        parameters.connection_attempts = 1
        try:
            pika.BlockingConnection(parameters).close()
            return "connected"
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"


def wait_for_broker(url: str, timeout: float, interval: float = 1.0) -> None:
    """Return once RabbitMQ at ``url`` answers; :class:`BrokerUnavailable` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    probe = BrokerProbe(url, ttl=0)
    while True:
        state = probe.state()
        if state == "connected":
            return
        if time.monotonic() >= deadline:
            raise BrokerUnavailable(f"RabbitMQ at {redact_url(url)} not reachable within {timeout:g}s ({state})")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
