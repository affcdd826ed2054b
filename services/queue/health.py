"""A worker process's ``/health`` (200 healthy, 503 when the broker is unreachable) and ``/metrics``.

Served from a daemon thread with the standard library's HTTP server: workers carry no web
framework. ``/health`` reports the broker state, the process id, the queues consumed, the messages in flight and
when the last message finished.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.queue.broker_probe import BrokerProbe
from services.queue.pipeline import Pipeline


def start_health_server(host: str, port: int, pipeline: Pipeline, probe: BrokerProbe,
                        queues: set[str]) -> ThreadingHTTPServer:
    """Serve ``/health`` and ``/metrics`` on ``host:port`` in a daemon thread; return the server."""
    outcomes = pipeline.broker_bundle.outcomes
    registry = pipeline.registry

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                return
            if self.path != "/health":
                self._send(404, json.dumps({"error": "not found"}).encode(), "application/json")
                return
            broker = probe.state()
            last = outcomes.last_message_at
            body = {
                "status": "healthy" if broker == "connected" else "unhealthy",
                "pid": os.getpid(),  # which of a worker's processes answered (each has its own port)
                "broker": broker,
                "queues": sorted(queues),
                "in_flight": outcomes.in_flight,
                "last_message_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)) if last else None,
            }
            self._send(200 if broker == "connected" else 503, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    # a stop waits for the serving loop's next poll: at the default half second that was a third of a
    # worker's graceful stop; ten idle polls a second cost nothing measurable
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="worker-health",
                     daemon=True).start()
    return server
