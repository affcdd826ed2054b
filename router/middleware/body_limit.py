"""``BodyLimit``: no request body over the limit is ever read, on any route.

A declared ``Content-Length`` over the limit is answered 413 before the app runs; a chunked body
is counted while it streams in, and the read that crosses the limit raises a 413 in the endpoint
reading it (so a 200 MB upload costs the router 16 KB, not 200 MB).

Parameters:
  app(ASGIApp): the app to wrap.
  max_bytes(int): the largest body accepted.
  larger(Mapping[str, int]): paths allowed another limit (GitHub's webhook deliveries). Defaults to none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body over {limit} bytes")
            return message

        await self.app(scope, limited, send)

    async def _too_large(self, send: Send, limit: int) -> None:
        body = json.dumps({"error": f"request body over {limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
