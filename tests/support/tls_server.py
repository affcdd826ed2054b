"""An HTTPS server on loopback for the doubles of cloud APIs (Key Vault, Log Analytics).

TLS comes from a ``trustme`` test CA written to ``ca_path``; clients trust that PEM file.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


class TlsHttpServer:
    """Serves ``handler`` over HTTPS on 127.0.0.1; :meth:`start`, ``url``, ``ca_path``, :meth:`stop`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], folder: Path, name: str) -> None:
        ca = trustme.CA()
        self.ca_path = folder / f"{name}-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> TlsHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
