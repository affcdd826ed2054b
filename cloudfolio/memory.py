"""Bound glibc's malloc arenas before any thread starts, so a long-running process keeps a flat RSS.

glibc gives each thread that allocates concurrently its own arena (up to 8 per core), and freed
memory scattered over many arenas is rarely returned: in a 10-minute soak the legacy replica, which
starts a thread pool per orchestration, grew 63 -> 94 MB at a steady slope with the default and
stayed flat with two arenas (docs/SOAK-RESULTS.md). :func:`bound_malloc_arenas` applies
``MALLOC_ARENA_MAX`` (default 2) through ``mallopt``; it does nothing off glibc, and an operator's own
``MALLOC_ARENA_MAX`` (which glibc already read at start) wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: ``M_ARENA_MAX`` from glibc's malloc.h.
M_ARENA_MAX = -8
DEFAULT_ARENAS = 2


def bound_malloc_arenas() -> bool:
    """True when the arena limit was set by this call."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    return bool(mallopt(M_ARENA_MAX, DEFAULT_ARENAS))
