"""Fixtures of the composition-root tests: an OTLP/HTTP receiver and a completion-webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otlp_receiver import OtlpReceiver
from tests.support.webhook_receiver import CompletionReceiver, start_receiver

WEBHOOK_SECRET = "task-webhook-secret"


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    """A receiver the processes under test export their spans and metrics to (tests clear it or
    filter by trace id)."""
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def completions() -> Iterator[CompletionReceiver]:
    """Receives single-task completions and verifies their signature with :data:`WEBHOOK_SECRET`."""
    state, server = start_receiver(WEBHOOK_SECRET)
    yield state
    server.stop()
