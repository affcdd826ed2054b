"""A webhook receiver on loopback that records what it is sent; a metric provider a test scripts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread
from rollout.analysis import Measurements, PathWindow
from rollout.measure import MetricsProvider


@dataclass
class Receiver:
    url: str
    received: list[Any] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    async def hook(request: Request) -> JSONResponse:
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"error": "try later"}, status_code=503)
        state.received.append(await request.json())
        return JSONResponse({"ok": True})

    server = ServerThread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])).start()
    state.url = f"{server.url}/hook"
    yield state
    server.stop()


class Scripted(MetricsProvider):
    """Answers with ``current`` (a Measurements, or an exception to raise)."""

    name = "scripted"

    def __init__(self) -> None:
        self.current: Measurements | Exception = Measurements(PathWindow(100, 0, 0.03), PathWindow(100, 0, 0.03))

    def measure(self, window_seconds: float) -> Measurements:
        if isinstance(self.current, Exception):
            raise self.current
        return self.current
