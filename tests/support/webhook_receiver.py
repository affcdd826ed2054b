"""A real HTTP receiver on loopback for the completion webhook: it verifies each delivery's
``X-Cloudfolio-Signature-256`` against the shared secret, as a backend would, and can answer a
scripted series of failures first."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread


@dataclass
class Delivery:
    body: dict[str, Any]
    headers: dict[str, str]
    signed_correctly: bool


@dataclass
class CompletionReceiver:
    secret: str
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # statuses to answer first, one per try
    tries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verified(self) -> list[dict[str, Any]]:
        """The bodies of every delivery whose signature verified."""
        return [d.body for d in self.deliveries if d.signed_correctly]


def start_receiver(secret: str) -> tuple[CompletionReceiver, ServerThread]:
    state = CompletionReceiver(secret)

    async def hook(request: Request) -> JSONResponse:
        raw = await request.body()
        with state.lock:
            state.tries += 1
            if state.fail_with:
                return JSONResponse({"error": "scripted"}, status_code=state.fail_with.pop(0))
        expected = "sha256=" + hmac.new(state.secret.encode(), raw, hashlib.sha256).hexdigest()
        given = request.headers.get("x-cloudfolio-signature-256", "")
        signed = hmac.compare_digest(given.encode(), expected.encode())
        with state.lock:
            state.deliveries.append(Delivery(json.loads(raw), dict(request.headers), signed))
        return JSONResponse({"ok": True}, status_code=200 if signed else 401)

    server = ServerThread(Starlette(routes=[Route("/tasks/done", hook, methods=["POST"])])).start()
    state.url = f"{server.url}/tasks/done"
    return state, server
