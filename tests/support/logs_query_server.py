"""An HTTPS double of the Log Analytics query API, for what cannot run here (Azure Monitor).

It speaks what ``azure-monitor-query``'s ``LogsQueryClient`` sends, from the REST reference:
``POST /v1/{resourceId}/query`` with ``Authorization: Bearer ...`` and a JSON body
``{"query", "timespan"}``, answered ``{"tables": [{"name": "PrimaryResult", "columns": [{"name",
"type"}], "rows": [...]}]}``; an error is ``{"error": {"code", "message"}}`` with its status. It
cannot run KQL: a test sets the table each query's first word (``requests``, ``dependencies``)
answers, and reads what was asked. TLS comes from a ``trustme`` CA (``ca_path``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.tls_server import TlsHttpServer


class LogsQueryServer(TlsHttpServer):
    def __init__(self, folder: Path) -> None:
        self.tables: dict[str, tuple[list[str], list[list[Any]]]] = {}  # first word -> (columns, rows)
        self.queries: list[dict[str, Any]] = []
        self.fail_with: int | None = None  # answer every query with this status
        self.lock = threading.Lock()
        super().__init__(_handler(self), folder, "logs")


def _handler(server: LogsQueryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if not self.path.startswith("/v1/") or not self.path.endswith("/query"):
                self._send(404, {"error": {"code": "PathNotFound", "message": self.path}})
                return
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                self._send(401, {"error": {"code": "AuthorizationRequiredError", "message": "no token"}})
                return
            with server.lock:
                server.queries.append({"path": self.path, **body})
                failing = server.fail_with
                word = str(body.get("query", "")).split(maxsplit=1)[0] if body.get("query") else ""
                columns, rows = server.tables.get(word, ([], []))
            if failing:
                self._send(failing, {"error": {"code": "ServiceError", "message": "injected"}})
                return
            self._send(200, {"tables": [{"name": "PrimaryResult", "rows": rows,
                                         "columns": [{"name": c, "type": "real"} for c in columns]}]})

    return Handler
