"""The legacy client against a server that drops kept-alive connections: GETs survive, POSTs are not resent."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from router.legacy_client import LegacyClient, LegacyUnavailable

ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
          b"connection: keep-alive\r\n\r\n{}")


class DroppingServer:
    """Answers the first request of a connection, announcing keep-alive, and closes the connection
    without an answer when the next request arrives on it (a server closing an idle connection just
    as the client reuses it)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536).split(b"\r\n")[0])
                conn.sendall(ANSWER)
                again = conn.recv(65536)
                if again:
                    self.requests.append(again.split(b"\r\n")[0])


@pytest.fixture
def server() -> Iterator[DroppingServer]:
    running = DroppingServer()
    yield running
    running.sock.close()


def test_a_get_on_a_dropped_connection_is_sent_again(server: DroppingServer) -> None:
    async def two_gets() -> list[int]:
        client = LegacyClient(f"http://127.0.0.1:{server.port}")
        try:
            first = await client.get_bundle("octocat")
            second = await client.get_bundle("octocat")
            return [first[0], second[0]]
        finally:
            await client.close()

    assert asyncio.run(two_gets()) == [200, 200]
    assert len(server.requests) == 3, server.requests  # the second GET went out twice, once per connection


def test_a_post_on_a_dropped_connection_is_never_resent(server: DroppingServer) -> None:
    async def get_then_post() -> None:
        client = LegacyClient(f"http://127.0.0.1:{server.port}")
        try:
            await client.get_bundle("octocat")
            await client.start("octocat")
        finally:
            await client.close()

    with pytest.raises(LegacyUnavailable):
        asyncio.run(get_then_post())
    assert [line.split()[0] for line in server.requests] == [b"GET", b"POST"]  # the POST went out once
