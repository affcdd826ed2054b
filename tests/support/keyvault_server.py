"""An HTTPS Key Vault test server speaking the secrets REST API the real SecretClient uses.

No Key Vault emulator can be installed here, so this implements what the client calls, from the
Key Vault REST reference: ``PUT /secrets/{name}`` (set, a new version each time, with tags and
content type), ``GET /secrets/{name}`` and ``GET /secrets/{name}/{version}``, and
``GET /secrets/{name}/versions`` (paged list). It answers an unauthenticated request with the 401
bearer challenge first (``WWW-Authenticate: Bearer authorization=..., resource=...``), refuses
names outside ``^[0-9a-zA-Z-]+$``, and on demand throttles with 429 and ``Retry-After``. TLS
comes from a ``trustme`` test CA; clients trust it through its PEM file.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.tls_server import TlsHttpServer

NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", '
             'resource="https://vault.azure.net"')


@dataclass
class VaultState:
    secrets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> versions, oldest first
    throttle: int = 0  # answer the next N authenticated requests with 429
    retry_after: int = 1
    down: bool = False  # drop every connection without an answer (an unreachable vault)
    hanging: bool = False  # accept requests and never answer them until released (a vault stuck mid-request)
    released: threading.Event = field(default_factory=threading.Event)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class KeyVaultServer(TlsHttpServer):
    """Start with :meth:`start`; ``url`` is the vault URL, ``ca_path`` the PEM to trust."""

    def __init__(self, folder: Path) -> None:
        self.state = VaultState()
        super().__init__(_handler(self.state), folder, "keyvault")

    def go_down(self) -> None:
        """Become unreachable: every request, on new or pooled connections, gets no answer."""
        self.state.down = True

    def hang(self) -> None:
        """Take requests and answer none of them until :meth:`recover` (or :meth:`stop`)."""
        self.state.released.clear()
        self.state.hanging = True

    def recover(self) -> None:
        self.state.down = self.state.hanging = False
        self.state.released.set()

    def stop(self) -> None:
        self.state.released.set()
        super().stop()

    def latest(self, name: str) -> dict[str, Any] | None:
        with self.state.lock:
            versions = self.state.secrets.get(name)
            return versions[-1] if versions else None


def _handler(state: VaultState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            with state.lock:
                state.log.append((self.command, self.path, status))

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"error": {"code": code, "message": message}})

        def _base(self) -> str:
            return f"https://{self.headers.get('Host')}"

        def _bundle(self, name: str, version: dict[str, Any], with_value: bool = True) -> dict[str, Any]:
            body = {"id": f"{self._base()}/secrets/{name}/{version['version']}", "attributes": {
                "enabled": True, "created": version["created"], "updated": version["created"],
                "recoveryLevel": "Recoverable+Purgeable"}, "tags": version["tags"]}
            if version.get("contentType"):
                body["contentType"] = version["contentType"]
            if with_value:
                body["value"] = version["value"]
            return body

        def _route(self) -> None:
            if state.hanging:
                state.released.wait(120)
                self.close_connection = True
                self.connection.close()
                return
            if state.down:
                self.close_connection = True
                self.connection.close()  # keep-alive connections included: the client sees a reset
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            if "api-version" not in parse_qs(parts.query):
                self._error(400, "MissingApiVersionParameter", "api-version is required")
                return
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                self._send(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a "
                                           "Bearer or PoP token."}}, {"WWW-Authenticate": CHALLENGE})
                return
            with state.lock:
                throttled = state.throttle > 0
                if throttled:
                    state.throttle -= 1
            if throttled:
                self._send(429, {"error": {"code": "Throttled", "message": "Too many requests"}},
                           {"Retry-After": str(state.retry_after)})
                return
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) < 2 or segments[0] != "secrets" or not NAME.fullmatch(segments[1]):
                self._error(400, "BadParameter", "invalid secret name")
                return
            name = segments[1]
            if self.command == "PUT" and len(segments) == 2:
                body = json.loads(raw or b"{}")
                if not isinstance(body.get("value"), str):
                    self._error(400, "BadParameter", "value is required")
                    return
                version = {"version": uuid.uuid4().hex, "value": body["value"], "tags": body.get("tags") or {},
                           "contentType": body.get("contentType"), "created": int(time.time())}
                with state.lock:
                    state.secrets.setdefault(name, []).append(version)
                self._send(200, self._bundle(name, version))
                return
            if self.command == "GET":
                with state.lock:
                    versions = list(state.secrets.get(name, []))
                if len(segments) == 3 and segments[2] == "versions":
                    self._send(200, {"value": [self._bundle(name, v, with_value=False) for v in versions],
                                     "nextLink": None})
                    return
                wanted = segments[2] if len(segments) == 3 and segments[2] else None
                match = [v for v in versions if wanted in (None, v["version"])]
                if not match:
                    self._error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this "
                                "key vault.")
                    return
                self._send(200, self._bundle(name, match[-1]))
                return
            self._error(405, "MethodNotAllowed", "not supported by this test server")

        do_GET = do_PUT = _route

    return Handler
