"""Gathered writes: uvicorn's real protocols on loopback sockets, an answer's writes counted at the transport.

Each connection's real transport is wrapped, below :class:`GatheredWrites`, by one that records what
reaches it, so a test sees how many writes an answer took and what each held. The held bytes'
guarantees (order, nothing past the loop turn, the hold limit, close and abort) are checked on the
wire where a client can see them, and on a recording transport where it cannot (abort).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread
from cloudfolio.http_writes import HOLD_LIMIT, GatheredWrites, gathered_protocol

SMALL = b'{"records":"' + b"s" * 2000 + b'"}'
LARGE = b"L" * (3 * HOLD_LIMIT)


class RecordingTransport:
    """A real transport that also records each write and writelines it is handed."""

    def __init__(self, transport: Any, calls: list[bytes]) -> None:
        self.transport, self.calls = transport, calls

    def write(self, data: bytes) -> None:
        self.calls.append(bytes(data))
        self.transport.write(data)

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(b"".join(chunks))
        self.transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Wire:
    """What reached each connection's transport, by the client's port."""

    def __init__(self) -> None:
        self.by_port: dict[int, list[bytes]] = {}

    def protocol(self, http: str) -> type[asyncio.Protocol]:
        wire = self

        class Recorded(gathered_protocol(http)):  # type: ignore[misc,valid-type]
            def connection_made(self, transport: Any) -> None:
                peer = transport.get_extra_info("peername")  # None for a client that already reset
                calls: list[bytes] = []
                if peer is not None:
                    wire.by_port[peer[1]] = calls  # a reused port starts afresh
                super().connection_made(RecordingTransport(transport, calls))

        return Recorded


release_stream = threading.Event()


async def small(request: Request) -> Response:
    return Response(SMALL, media_type="application/json")


async def large(request: Request) -> Response:
    return Response(LARGE, media_type="application/octet-stream")


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> Any:
        yield b"first"
        while not release_stream.is_set():  # the client releases the rest once it holds the first chunk
            await asyncio.sleep(0.01)
        yield b"second"

    return StreamingResponse(chunks(), media_type="text/plain")


APP = Starlette(routes=[Route("/small", small), Route("/large", large), Route("/echo", echo, methods=["POST"]),
                        Route("/stream", stream)])


@pytest.fixture(scope="module", params=[("httptools", "uvloop"), ("h11", "asyncio")], ids=["httptools", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[ServerThread, Wire]]:
    """The C pair ``cloudfolio serve`` runs on, and the pure-Python fallback where they do not import."""
    http, loop = request.param
    wire = Wire()
    thread = ServerThread(APP, http=wire.protocol(http), loop=loop).start()
    yield thread, wire
    thread.stop()


def connect(thread: ServerThread) -> socket.socket:
    return socket.create_connection(("127.0.0.1", thread.port), timeout=5)


def receive(sock: socket.socket, complete: Callable[[bytes], bool] | None = None) -> bytes:
    """Read until ``complete(what was read)`` holds; without ``complete``, until the server closes."""
    data = b""
    while complete is None or not complete(data):
        chunk = sock.recv(65536)
        if not chunk:
            assert complete is None, f"connection closed after {len(data)} bytes"
            return data
        data += chunk
    return data


def read_answer(sock: socket.socket, body_length: int) -> bytes:
    """One answer with a Content-Length body, read off the socket whole."""
    return receive(sock, lambda data: b"\r\n\r\n" in data and len(data.split(b"\r\n\r\n", 1)[1]) >= body_length)


def test_an_answer_leaves_in_one_write_head_and_body_together(server: tuple[ServerThread, Wire]) -> None:
    thread, wire = server
    with connect(thread) as sock:
        for _ in range(3):  # keep-alive: each answer of the connection is one write
            sock.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n")
            answer = read_answer(sock, len(SMALL))
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(SMALL)
        calls = wire.by_port[sock.getsockname()[1]]
    assert len(calls) == 3, [len(c) for c in calls]
    assert all(c.startswith(b"HTTP/1.1 200 OK\r\n") and c.endswith(SMALL) for c in calls)


def test_pipelined_requests_are_answered_in_order(server: tuple[ServerThread, Wire]) -> None:
    thread, _wire = server
    with connect(thread) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\n"
                     b"Content-Length: 3\r\n\r\nabcGET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        data = receive(sock, lambda data: data.count(b"HTTP/1.1 200 OK") == 3 and data.endswith(SMALL))
    first, second, third = data.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(SMALL) and second.endswith(b"\r\n\r\nabc") and third.endswith(SMALL)


def test_a_head_answer_without_a_body_is_not_held(server: tuple[ServerThread, Wire]) -> None:
    thread, _wire = server
    with connect(thread) as sock:
        sock.settimeout(4)  # under uvicorn's 5 s keep-alive, whose close would send a held head too
        sock.sendall(b"HEAD /small HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = read_answer(sock, 0)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and f"content-length: {len(SMALL)}".encode() in answer


def test_a_large_answer_arrives_whole(server: tuple[ServerThread, Wire]) -> None:
    thread, wire = server
    with connect(thread) as sock:
        sock.sendall(b"GET /large HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = read_answer(sock, len(LARGE))
        calls = wire.by_port[sock.getsockname()[1]]
    assert answer.split(b"\r\n\r\n", 1)[1] == LARGE
    assert b"".join(calls) == answer


def test_a_streamed_chunk_goes_out_before_the_stream_ends(server: tuple[ServerThread, Wire]) -> None:
    thread, _wire = server
    release_stream.clear()
    try:
        with httpx.Client(timeout=5) as client, client.stream("GET", f"{thread.url}/stream") as answer:
            chunks = answer.iter_bytes()
            assert next(chunks) == b"first"  # a held head or chunk would time out here
            release_stream.set()
            assert b"".join(chunks) == b"second"
    finally:
        release_stream.set()


def test_a_100_continue_is_sent_while_the_client_waits_for_it(server: tuple[ServerThread, Wire]) -> None:
    thread, _wire = server
    with connect(thread) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")  # 5 s socket timeout otherwise
        sock.sendall(b"hello")
        assert read_answer(sock, 5).endswith(b"\r\n\r\nhello")


def test_an_answer_before_a_close_is_sent_whole(server: tuple[ServerThread, Wire]) -> None:
    thread, _wire = server
    with connect(thread) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = receive(sock)  # the server closes after the answer
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(SMALL)


def test_clients_that_reset_mid_answer_leave_the_server_answering(server: tuple[ServerThread, Wire],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    thread, _wire = server
    for _ in range(20):  # each resets while its answer is held, being written, or already sent
        sock = connect(thread)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends a reset
        sock.sendall(b"GET /large HTTP/1.1\r\nHost: t\r\n\r\nGET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.close()
    with connect(thread) as sock:
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_answer(sock, len(SMALL)).endswith(SMALL)
    # a held write flushed onto a lost connection would surface as an error in the loop's callback
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text


class Recorded:
    """A transport that only records (for what no client can observe: an abort drops the held bytes)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, chunks: list[bytes]) -> None:
        self.calls.append(("writelines", list(chunks)))

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.calls.append(("abort", None))

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def get_write_buffer_size(self) -> int:
        return 7


def test_held_bytes_go_out_in_order_at_the_end_of_the_turn_and_an_abort_drops_them() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        transport = Recorded()
        writes = GatheredWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(b"head")
        writes.write(memoryview(b"body"))
        assert transport.calls == [] and writes.get_write_buffer_size() == 7 + 8
        await asyncio.sleep(0)  # the end of the turn
        writes.write(b"kept until the next turn")
        writes.abort()
        await asyncio.sleep(0)
        transport.closing = True
        writes.write(b"after the connection closed")
        await asyncio.sleep(0)
        return transport.calls

    assert asyncio.run(scenario()) == [("writelines", [b"head", b"body"]), ("abort", None)]


def test_a_write_that_reaches_the_hold_limit_goes_out_at_once() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        transport = Recorded()
        writes = GatheredWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(b"head")
        writes.write(b"x" * HOLD_LIMIT)
        return list(transport.calls)  # before the turn ends

    assert asyncio.run(scenario()) == [("writelines", [b"head", b"x" * HOLD_LIMIT])]


def test_an_end_of_file_sends_what_is_held_first() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        transport = Recorded()
        writes = GatheredWrites(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        writes.write(bytearray(b"last answer"))
        writes.write_eof()
        return list(transport.calls)  # before the turn ends

    assert asyncio.run(scenario()) == [("write", b"last answer"), ("write_eof", None)]


def test_only_uvicorns_http_protocols_are_wrapped() -> None:
    with pytest.raises(ValueError, match="httptools or h11"):
        gathered_protocol("zttp")
