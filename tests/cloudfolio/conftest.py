"""Fixtures of the composition-root tests: an OTLP/HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    """A receiver the processes under test export their spans and metrics to (tests clear it or
    filter by trace id)."""
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()
