"""Bound glibc's malloc arenas before any thread starts, so a long-running process keeps a flat RSS.

glibc gives each thread that allocates concurrently its own arena (up to 8 per core), and freed
memory scattered over many arenas is rarely returned: in a 10-minute soak the legacy replica, which
starts a thread pool per orchestration, grew 63 -> 94 MB at a steady slope with the default and
stayed flat with two arenas (docs/SOAK-RESULTS.md). :func:`bound_malloc_arenas` applies
``MALLOC_ARENA_MAX`` (default 2) through ``mallopt``; it does nothing off glibc, and an operator's own
``MALLOC_ARENA_MAX`` (which glibc already read at start) wins.

glibc also parks freed chunks in a cache per thread (up to 7 per size class, about 240 KB a thread),
counted as in use and never returned. A sync worker runs about 75 threads (its workers and its GitHub
fetch pool), and those caches filled for the whole of a 40-minute soak (+13 MB/h of RSS); with them
off its RSS and heap stayed flat (docs/SOAK-RESULTS.md). Only an environment variable read at start
(``GLIBC_TUNABLES``) turns them off: :func:`without_thread_caches` adds it to the environment of every
process the tests and the load tests start (``QueueEnv``), and the Dockerfiles set it. An operator's own
``glibc.malloc.tcache_count`` wins.

:class:`MallocTrimmer` returns freed C-heap pages to the system every
``CLOUDFOLIO_MALLOC_TRIM_SECONDS`` (default 60). :func:`watch_allocations` is the diagnostic for
what growth remains: with ``CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR`` set, a process traces its Python
allocations and writes the top growth by source line at intervals (``python -m loadtest.soak
--tracemalloc`` sets it). Off by default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import logging
import os
import platform
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from services.core.heap_usage import heap_usage
from services.core.settings import Settings

log = logging.getLogger("cloudfolio.memory")

#: ``M_ARENA_MAX`` from glibc's malloc.h.
M_ARENA_MAX = -8
DEFAULT_ARENAS = 2


#: glibc's tunable that turns the per-thread caches off (read by glibc when a process starts).
THREAD_CACHES_OFF = "glibc.malloc.tcache_count=0"


def without_thread_caches(env: dict[str, str]) -> dict[str, str]:
    """``env`` with glibc's per-thread malloc caches off, for a process about to start; tunables already
    there are kept, and an explicit ``tcache_count`` among them wins."""
    tunables = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.tcache_count=" in tunables:
        return env
    return {**env, "GLIBC_TUNABLES": f"{tunables}:{THREAD_CACHES_OFF}" if tunables else THREAD_CACHES_OFF}


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


class AllocationWatch(threading.Thread):
    """Appends, every ``every`` seconds, one JSON object per line to ``folder/<role>-<pid>.jsonl``:
    ``seconds``, ``rss_mb``, the C heap's ``heap_in_use_mb`` and ``heap_free_mb``
    (:mod:`services.core.heap_usage`), ``py_blocks`` (pymalloc's live blocks, ``sys.getallocatedblocks``),
    ``gc_objects`` and ``types`` (the object types whose count grew most since the first snapshot:
    ``type``, ``count``, ``delta``) and, while tracemalloc traces, ``traced_mb`` and ``top`` (the
    top growth since the first snapshot by source line: ``where``, ``size_kb``, ``delta_kb``, ``count``).

    Growth that levels off is a cache filling; a line whose ``delta_kb`` keeps rising is a leak. RSS
    growing while ``traced_mb`` and ``heap_in_use_mb`` stay flat is the allocator keeping freed memory
    (``heap_free_mb``, or pymalloc's arenas), not objects; ``py_blocks`` flat under rising RSS is
    pymalloc's arenas fragmenting, ``py_blocks`` rising with one type's ``delta`` is objects kept alive.
    The census walks every tracked object (tens of ms for a worker): diagnostics, off by default.

    Parameters:
      folder(Path): where the file goes (made if missing).
      role(str): names the file (``router``, ``worker``, ``legacy``).
      every(float): seconds between snapshots.
      top(int): lines kept per snapshot (default 15).
    """

    def __init__(self, folder: Path, role: str, every: float, top: int = 15) -> None:
        super().__init__(daemon=True, name="allocation-watch")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{role}-{os.getpid()}.jsonl"
        self.every, self.top = every, top
        self.stopped = threading.Event()
        self._began = time.monotonic()
        self._baseline: tracemalloc.Snapshot | None = None
        self._census: Counter[str] | None = None

    def snapshot(self) -> dict[str, object]:
        row: dict[str, object] = {"seconds": round(time.monotonic() - self._began, 1),
                                  "rss_mb": round(_rss_bytes() / 2**20, 1)}
        heap = heap_usage()
        if heap is not None:
            row |= {"heap_in_use_mb": round(heap["in_use"] / 2**20, 2), "heap_free_mb": round(heap["free"] / 2**20, 2)}
        row |= self._type_census()
        if tracemalloc.is_tracing():
            current = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            if self._baseline is None:
                self._baseline = current
            stats = current.compare_to(self._baseline, "lineno")[: self.top]
            row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
            row["top"] = [{"where": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
                           "size_kb": round(s.size / 1024), "delta_kb": round(s.size_diff / 1024), "count": s.count}
                          for s in stats]
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        return row

    def _type_census(self) -> dict[str, object]:
        """Live blocks, tracked objects, and the types whose count grew most since the first census."""
        census = Counter(type(o).__qualname__ for o in gc.get_objects())
        if self._census is None:
            self._census = census
        growth = sorted(((n - self._census.get(name, 0), name, n) for name, n in census.items()), reverse=True)
        return {"py_blocks": sys.getallocatedblocks(), "gc_objects": sum(census.values()),
                "types": [{"type": name, "count": n, "delta": delta} for delta, name, n in growth[: self.top]]}

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.snapshot()
            except Exception:  # diagnostics never take the process down
                log.exception("allocation snapshot failed")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the traced figures still tell
        return 0


def watch_allocations(settings: Settings, role: str) -> AllocationWatch | None:
    """Start an :class:`AllocationWatch` when ``CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR`` is set."""
    if not settings.memory_snapshots_dir:
        return None
    if settings.memory_trace_python:
        tracemalloc.start(1)
    watch = AllocationWatch(Path(settings.memory_snapshots_dir), role, settings.memory_snapshot_seconds)
    watch.start()
    log.warning("memory snapshots into %s%s", watch.path,
                " (tracing Python allocations: slower)" if settings.memory_trace_python else "")
    return watch


class MallocTrimmer(threading.Thread):
    """Calls glibc's ``malloc_trim(0)`` every ``every`` seconds, handing freed heap pages back to the
    system. Python's own heap stays flat under load (the soak's allocation snapshots), but the C
    allocator keeps the pages of freed request buffers, so RSS creeps without it.

    Parameters:
      every(float): seconds between trims.
    """

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True, name="malloc-trim")
        self.every = every
        self.stopped = threading.Event()
        self.trims = 0
        self._trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self._trim(0)
            self.trims += 1


def trim_malloc_periodically(settings: Settings) -> MallocTrimmer | None:
    """Start a :class:`MallocTrimmer` on glibc when ``CLOUDFOLIO_MALLOC_TRIM_SECONDS`` is above 0."""
    if settings.malloc_trim_seconds <= 0 or platform.libc_ver()[0] != "glibc":
        return None
    trimmer = MallocTrimmer(settings.malloc_trim_seconds)
    trimmer.start()
    return trimmer


def watch_memory(settings: Settings, role: str) -> None:
    """What a long-running process (``serve``, ``legacy``, ``worker``) does about its memory."""
    trim_malloc_periodically(settings)
    watch_allocations(settings, role)
