"""Lock stripes of the local storage: locks that exclude this process's threads and other processes.

A key (or a folder) hashes onto one of ``LOCK_STRIPES`` stripes (folders onto the next
``LOCK_STRIPES``: a key and a folder never share a lock). Holding a stripe means holding its
thread lock, which excludes our own threads, and an ``flock`` on its lock file, which excludes
other processes (``flock`` belongs to an open file, not to a thread, so one open file per stripe
serves all our threads).

Guarantee across ``fork``: a forked child gets new thread locks (another thread may have held one
at the fork) and opens lock files of its own. An inherited lock file is the parent's open file, and
with it parent and child would hold the same ``flock`` and exclude nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: Number of lock files keys hash onto (as many again for folders); more stripes, less false contention.
LOCK_STRIPES = 64
#: Stripes alive in this process: a forked child gives each its own locks and lock files.
_LIVE: weakref.WeakSet[LockStripes] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for stripes in list(_LIVE):
        stripes.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class LockStripes:
    """The lock stripes kept in ``folder`` (one lock file per stripe, opened when first taken)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        self._threads = [threading.Lock() for _ in range(2 * LOCK_STRIPES)]
        self._files: dict[int, BinaryIO] = {}
        self._guard = threading.Lock()

    @staticmethod
    def stripe_of(key: str, *, folder: bool = False) -> int:
        return zlib.crc32(key.encode()) % LOCK_STRIPES + (LOCK_STRIPES if folder else 0)

    @contextlib.contextmanager
    def held(self, key: str, *, folder: bool = False) -> Iterator[None]:
        """Hold the stripe of a key (or, with ``folder``, of a folder) in this process and in others."""
        stripe = self.stripe_of(key, folder=folder)
        with self._threads[stripe]:
            handle = self.file(stripe)
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def file(self, stripe: int) -> BinaryIO:
        """The stripe's open lock file."""
        with self._guard:
            handle = self._files.get(stripe)
            if handle is None:
                handle = self._files[stripe] = open(self.folder / f"{stripe:02d}", "a+b")  # noqa: SIM115
            return handle

    def thread_lock(self, stripe: int) -> threading.Lock:
        return self._threads[stripe]

    def after_fork(self) -> None:
        """In a forked child: new thread locks and lock files of its own (see the module)."""
        inherited = list(self._files.values())
        self._reset()
        for handle in inherited:  # the parent's locks stay: its own descriptors still hold the open file
            with contextlib.suppress(OSError):
                handle.close()

    def close(self) -> None:
        with self._guard:
            for handle in self._files.values():
                handle.close()
            self._files.clear()
