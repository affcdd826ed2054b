"""The malloc arena bound (applied on glibc unless the operator chose their own) and the allocation watch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfolio.devserver.processes import QueueEnv
from cloudfolio.devserver.waiting import wait_until
from cloudfolio.memory import (
    THREAD_CACHES_OFF,
    AllocationWatch,
    trim_malloc_periodically,
    watch_allocations,
    without_thread_caches,
)
from services.core.settings import Settings

PROBE = "from cloudfolio.memory import bound_malloc_arenas; print(bound_malloc_arenas())"


def run_probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena bound is a glibc setting")
def test_the_bound_is_set_on_glibc_and_an_operators_choice_wins() -> None:
    assert run_probe() == "True"
    assert run_probe(MALLOC_ARENA_MAX="4") == "False"



@pytest.fixture
def tracing_allocations() -> Iterator[None]:
    tracemalloc.start(1)
    yield
    tracemalloc.stop()


def test_the_watch_names_the_line_that_keeps_growing(tracing_allocations: None, tmp_path: Path) -> None:
    watch = AllocationWatch(tmp_path / "memory", "router", every=60)
    hoard: list[bytes] = []
    watch.snapshot()
    for _ in range(3):
        grow(hoard)
        watch.snapshot()
    rows = [json.loads(line) for line in watch.path.read_text().splitlines()]
    assert watch.path.name == f"router-{os.getpid()}.jsonl" and len(rows) == 4
    growth = [next(t["delta_kb"] for t in row["top"] if t["where"].endswith(f"{Path(__file__).name}:{GROW_LINE}"))
              for row in rows[1:]]
    assert growth[0] >= 900 and growth[1] >= 1.8 * growth[0] and growth[2] >= 2.7 * growth[0], growth
    assert rows[-1]["traced_mb"] > rows[0]["traced_mb"] + 2.5 and rows[-1]["rss_mb"] > 0
    assert len(hoard) == 768


def test_no_watch_unless_a_folder_is_set(tmp_path: Path) -> None:
    assert watch_allocations(Settings.from_env({}), "router") is None
    assert not tracemalloc.is_tracing()


def test_a_configured_process_snapshots_on_its_own(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR": str(tmp_path),
                                  "CLOUDFOLIO_MEMORY_SNAPSHOT_SECONDS": "1"})
    watch = watch_allocations(settings, "worker")
    try:
        assert watch is not None and tracemalloc.is_tracing()
        lines = wait_until(lambda: watch.path.exists() and watch.path.read_text().splitlines(), 10,
                           lambda: "no snapshot written")
        assert json.loads(lines[0])["traced_mb"] > 0
    finally:
        if watch is not None:
            watch.stopped.set()
            watch.join(timeout=5)
        tracemalloc.stop()


def test_without_tracing_the_watch_writes_rss_and_the_c_heap_only(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_MEMORY_SNAPSHOTS_DIR": str(tmp_path),
                                  "CLOUDFOLIO_MEMORY_TRACE_PYTHON": "false"})
    watch = watch_allocations(settings, "legacy")
    try:
        assert watch is not None and not tracemalloc.is_tracing()
        row = watch.snapshot()
        assert "traced_mb" not in row and "top" not in row and row["rss_mb"] > 0  # type: ignore[operator]
        if platform.libc_ver()[0] == "glibc":
            assert row["heap_in_use_mb"] > 0 and row["heap_free_mb"] >= 0  # type: ignore[operator]
    finally:
        if watch is not None:
            watch.stopped.set()
            watch.join(timeout=5)


class Kept:
    """Objects a test keeps alive between two censuses."""


def test_the_census_names_the_type_whose_objects_pile_up(tmp_path: Path) -> None:
    watch = AllocationWatch(tmp_path / "memory", "worker", every=60)
    first = watch.snapshot()
    kept = [Kept() for _ in range(20_000)]
    second = watch.snapshot()
    grown = {t["type"]: t for t in second["types"]}  # type: ignore[attr-defined]
    assert grown["Kept"]["delta"] >= 20_000 and grown["Kept"]["count"] >= 20_000
    assert second["py_blocks"] >= first["py_blocks"] + 19_000  # type: ignore[operator]
    assert second["gc_objects"] >= first["gc_objects"] + 19_000  # type: ignore[operator]
    del kept
    third = watch.snapshot()
    assert "Kept" not in {t["type"] for t in third["types"] if t["delta"] > 0}  # type: ignore[attr-defined]


def grow(hoard: list[bytes]) -> None:
    hoard.extend(bytes(4096) + bytes([i % 256]) for i in range(256))  # about 1 MB more each call


GROW_LINE = grow.__code__.co_firstlineno + 1


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_the_trimmer_runs_on_its_interval_and_can_be_turned_off() -> None:
    assert trim_malloc_periodically(Settings.from_env({"CLOUDFOLIO_MALLOC_TRIM_SECONDS": "0"})) is None
    trimmer = trim_malloc_periodically(Settings.from_env({"CLOUDFOLIO_MALLOC_TRIM_SECONDS": "0.05"}))
    assert trimmer is not None
    try:
        wait_until(lambda: trimmer.trims >= 2, 10, lambda: f"trimmed {trimmer.trims} times")
    finally:
        trimmer.stopped.set()
        trimmer.join(timeout=5)


# Eight threads each free 7 chunks of every small size and stay alive; the C heap's in-use bytes then
# show what glibc parked in their per-thread caches.
CACHE_PROBE = """
import ctypes, ctypes.util, threading
from services.core.heap_usage import heap_usage
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
freed, done = threading.Barrier(9), threading.Event()
def churn():
    chunks = [libc.malloc(size) for size in range(24, 1033, 16) for _ in range(7)]
    for chunk in chunks:
        libc.free(chunk)
    freed.wait()
    done.wait()
threads = [threading.Thread(target=churn) for _ in range(8)]
before = heap_usage()["in_use"]
for thread in threads:
    thread.start()
freed.wait()
print(heap_usage()["in_use"] - before)
done.set()
"""


def parked_bytes(env: dict[str, str]) -> int:
    return int(subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, capture_output=True, text=True,
                              check=True).stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="per-thread malloc caches are glibc's")
def test_processes_started_by_the_dev_server_park_no_freed_memory_in_thread_caches(tmp_path: Path) -> None:
    plain = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    started = QueueEnv(tmp_path, "http://127.0.0.1:9").process_env()
    assert started["GLIBC_TUNABLES"] == THREAD_CACHES_OFF
    assert parked_bytes(plain) > 1_000_000, "the probe sees the caches when they are on"
    assert parked_bytes({**plain, "GLIBC_TUNABLES": started["GLIBC_TUNABLES"]}) < 200_000


def test_an_operators_tunables_are_kept_and_their_cache_size_wins() -> None:
    assert without_thread_caches({"GLIBC_TUNABLES": "glibc.malloc.mxfast=0"})["GLIBC_TUNABLES"] == (
        "glibc.malloc.mxfast=0:" + THREAD_CACHES_OFF)
    assert without_thread_caches({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=3"}) == {
        "GLIBC_TUNABLES": "glibc.malloc.tcache_count=3"}
