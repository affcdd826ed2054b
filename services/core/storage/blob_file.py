"""The file format of a local blob, written and read with as few system calls as it takes.

A blob file is the body bytes followed by a trailer (JSON with etag, metadata and content type),
then the trailer's length (8 bytes, big-endian) and a magic tag. Content and metadata therefore
change together in one atomic rename, and metadata computed while streaming the body (a bundle's
fingerprint) is written after it.

Why raw file descriptors instead of Python's buffered files: every system call releases the GIL,
and a worker with 32 threads pays a thread switch for most of them. A buffered open costs an
``fstat``, an ``ioctl`` and ``lseek`` calls on top of the work; here a write is ``open``, one
``writev`` (or one ``write`` per 64 KiB of a streamed body), ``fstat`` and ``close``, and a read is
``open``, ``fstat``, one ``pread`` (two for a blob over 64 KiB or a long trailer) and ``close``.

Guarantees: :func:`write_blob` writes every byte or raises ``OSError``; :func:`read_blob` and
:func:`read_trailer` raise :class:`ValueError` for a file that is not a whole blob of this format
(foreign, truncated), which the backend answers as not found.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from typing import Any

MAGIC = b"CFBLOB2\n"
#: Trailer length (8 bytes, big-endian) followed by the magic tag.
FOOTER = struct.Struct(">Q8s")
#: Bytes of a file's end read at once for its trailer: a trailer is a few hundred bytes.
TAIL = 4096
#: Files up to this size are read whole at once; the body is then sliced out of that read (a copy).
WHOLE_READ = 64 * 1024
#: A streamed body is written in pieces of about this size (one system call each).
WRITE_CHUNK = 64 * 1024


def _write_all(fd: int, pieces: list[bytes | bytearray | memoryview]) -> None:
    """Write ``pieces`` in order; a short write (rare on a regular file) writes the rest."""
    views = [memoryview(piece).cast("B") for piece in pieces if len(piece)]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def write_blob(fd: int, data: bytes | bytearray | memoryview | Iterable[bytes],
               header: Callable[[], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """Write the body, then the trailer ``header()`` gives, to the open file ``fd``; return the body's
    size and that trailer. ``header`` is called once the body has been read to its end (a streamed
    body may compute its metadata as it goes)."""
    if isinstance(data, bytes | bytearray | memoryview):
        body = [data]
        size = len(memoryview(data).cast("B"))
    else:
        size, pending = 0, bytearray()
        for chunk in data:
            pending += chunk
            if len(pending) >= WRITE_CHUNK:
                _write_all(fd, [pending])
                size += len(pending)
                pending = bytearray()
        body, size = [pending], size + len(pending)
    written = header()
    trailer = json.dumps(written).encode()
    _write_all(fd, [*body, trailer, FOOTER.pack(len(trailer), MAGIC)])
    return size, written


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    while len(data) < size:  # only past 2 GiB, or a file cut short under us
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            raise ValueError("blob file shorter than its size")
        data += more
    return data


def _split(tail: bytes, tail_offset: int) -> tuple[int, int]:
    """(trailer length, body size) from a read of the file's end starting at ``tail_offset``."""
    end = tail_offset + len(tail)
    if end < FOOTER.size:
        raise ValueError("too short to be a blob")
    length, magic = FOOTER.unpack(tail[-FOOTER.size:])
    if magic != MAGIC or length > end - FOOTER.size:
        raise ValueError("not a blob file")
    return length, end - FOOTER.size - length


def read_trailer(fd: int, file_size: int) -> tuple[dict[str, Any], int]:
    """(trailer, body size) of the blob file ``fd`` of ``file_size`` bytes, body unread."""
    start = max(0, file_size - TAIL)
    tail = _pread_exact(fd, file_size - start, start)
    length, body_size = _split(tail, start)
    if body_size < start:  # a trailer longer than the tail read (large metadata)
        return json.loads(_pread_exact(fd, length, body_size)), body_size
    return json.loads(tail[body_size - start:len(tail) - FOOTER.size]), body_size


def read_blob(fd: int, file_size: int) -> tuple[dict[str, Any], bytes]:
    """(trailer, body) of the blob file ``fd`` of ``file_size`` bytes: one read up to
    :data:`WHOLE_READ` bytes, above it the trailer and then the body (a bundle is not held twice)."""
    if file_size > WHOLE_READ:
        trailer, body_size = read_trailer(fd, file_size)
        return trailer, _pread_exact(fd, body_size, 0)
    whole = _pread_exact(fd, file_size, 0)
    length, body_size = _split(whole, 0)
    return json.loads(whole[body_size:body_size + length]), whole[:body_size]
