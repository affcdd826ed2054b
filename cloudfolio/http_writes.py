"""One socket write per small answer: uvicorn's HTTP protocols with an answer's writes gathered.

uvicorn writes an answer's status line and headers when the app sends ``http.response.start``, and
its body when the app sends ``http.response.body``: two ``send()`` system calls, two TCP segments
and, on a client that waits for the answer, two wake-ups, for an answer that fits in one. Under
load the head's write was the most expensive line of the router's cached GET (docs/BENCHMARKS.md).
aiohttp sends a small answer's head with its body for the same reason.

:class:`GatheredWrites` wraps a connection's transport. The bytes written in one turn of the event
loop are held and handed to the transport together at the end of that turn (``writelines``: uvloop
sends them with one ``writev``), so an answer sent from one task step, head and body, leaves in one
system call. Guarantees:

- bytes leave in the order they were written, and nothing is held past the current turn of the loop:
  a 100-continue, a HEAD answer (a head and no body) and a streamed answer's chunks (each awaited
  apart) go out as soon as they did before, one turn later at most;
- at most :data:`HOLD_LIMIT` bytes are held: a write that reaches it is sent at once, so the
  transport's own buffer limits (uvicorn's flow control pauses on them) still see large answers;
- ``close()`` and ``write_eof()`` send what is held first; ``abort()`` drops it, as it drops the
  transport's own buffer; after the connection is lost nothing held is written.

:func:`gathered_protocol` makes the uvicorn protocol class (httptools or h11) that wraps each
connection's transport so; ``cloudfolio serve`` and ``cloudfolio legacy`` run on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

#: Bytes held before a write is sent at once (an answer larger than this goes out as uvicorn wrote it):
#: uvicorn's own read high-water mark and asyncio's default write one are the same 64 KiB.
HOLD_LIMIT = 64 * 1024


class GatheredWrites:
    """A transport whose writes within one turn of the event loop reach ``transport`` together."""

    __slots__ = ("_transport", "_loop", "_held", "_held_bytes")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)  # the end of this turn: nothing waits longer than that
        chunk = data if isinstance(data, bytes) else bytes(data)  # the app may reuse a bytearray it sent
        self._held.append(chunk)
        self._held_bytes += len(chunk)
        if self._held_bytes >= HOLD_LIMIT:
            self.flush()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand what is held to the transport now (called at the end of the turn; harmless when empty)."""
        held, self._held, self._held_bytes = self._held, [], 0
        if not held or self._transport.is_closing():
            return
        if len(held) == 1:
            self._transport.write(held[0])
        else:
            self._transport.writelines(held)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held, self._held_bytes = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # reading, extra info, limits: the transport's own
        return getattr(self._transport, name)


def gathered_protocol(http: str) -> type[asyncio.Protocol]:
    """uvicorn's ``httptools`` or ``h11`` protocol class, each connection's transport wrapped in
    :class:`GatheredWrites` as it is made."""
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    elif http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    else:
        raise ValueError(f"no gathered writes for the HTTP protocol {http!r} (httptools or h11)")

    class Gathered(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # flow control and the addresses keep the transport itself
            self.transport = GatheredWrites(transport, self.loop)

    Gathered.__name__ = Gathered.__qualname__ = f"Gathered{base.__name__}"
    return Gathered
