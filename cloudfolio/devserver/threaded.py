"""Run an ASGI app with uvicorn in a daemon thread on 127.0.0.1 (dev servers and tests)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Runs an ASGI app with uvicorn in a daemon thread on 127.0.0.1; ``http`` is uvicorn's HTTP
    protocol (a name, or a class such as :func:`cloudfolio.http_writes.gathered_protocol` makes) and
    ``loop`` its event loop (``auto``: uvloop where it imports)."""

    def __init__(self, app: Any, port: int | None = None, http: Any = "auto", loop: str = "auto") -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2, server_header=False, http=http, loop=loop)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
