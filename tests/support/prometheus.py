"""Prometheus for tests: the dev server's, skipped locally (failed under CI) when it is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cloudfolio.devserver.prometheus import Prometheus, PrometheusMissing
from cloudfolio.devserver.prometheus import running_prometheus as _running
from tests.support.services import unavailable

__all__ = ["Prometheus", "running_prometheus"]


@contextmanager
def running_prometheus(targets: list[str], folder: Path) -> Iterator[Prometheus]:
    try:
        with _running(targets, folder) as server:
            yield server
    except PrometheusMissing as exc:
        unavailable(str(exc))
