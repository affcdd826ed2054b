"""How long Python's garbage collector stops the process: ``python_gc_pause_seconds{generation}``.

prometheus_client counts collections but not their length, and a full (generation 2) collection
of a process holding many objects stops every thread for tens of milliseconds: a latency tail no
request handler can explain. One ``gc.callbacks`` hook per process (installed once, whoever asks
first) times every collection into process-wide buckets; :class:`GcPauseCollector` shows them in any
registry that registers one (the router's and each worker's ``/metrics``).

:func:`freeze_startup_objects` is the remedy (``CLOUDFOLIO_GC_FREEZE``, on by default): once a server
process has started, every object alive (modules, classes, the SDKs' tables: about 68,000 in the
router, whose full collection took about 115 ms here) moves to the collector's permanent generation,
so later full collections scan only what the process created since.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# re-entrant: a collection can start in a thread holding it (any allocation under it may trigger one),
# and the hook then takes it again in that thread; a plain Lock deadlocked the router that way
_lock = threading.RLock()
_counts = [[0] * (len(BUCKETS) + 1) for _ in range(3)]  # per generation: per bucket, then +Inf
_sums = [0.0, 0.0, 0.0]
_started = [0.0]
_installed = [False]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    pause, generation = time.perf_counter() - _started[0], min(int(info.get("generation", 2)), 2)
    index = next((i for i, bound in enumerate(BUCKETS) if pause <= bound), len(BUCKETS))
    with _lock:
        _counts[generation][index] += 1
        _sums[generation] += pause


def install() -> None:
    """Start timing collections in this process (idempotent)."""
    with _lock:
        if not _installed[0]:
            gc.callbacks.append(_on_gc)
            _installed[0] = True


def freeze_startup_objects(enabled: bool = True) -> int:
    """``gc.freeze()`` after a collection, when ``enabled``; returns the number of objects frozen."""
    if not enabled:
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def longest_bucket(generation: int = 2) -> float | None:
    """The upper bound of the highest bucket any collection of ``generation`` fell in (for benchmarks)."""
    with _lock:
        filled = [i for i, count in enumerate(_counts[generation]) if count]
    if not filled:
        return None
    return BUCKETS[filled[-1]] if filled[-1] < len(BUCKETS) else float("inf")


class GcPauseCollector(Collector):
    """``python_gc_pause_seconds`` from the process-wide buckets (installs the hook when created)."""

    def __init__(self) -> None:
        install()

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily("python_gc_pause_seconds", "Garbage collection pauses by generation.",
                                       labels=["generation"])
        with _lock:
            counts, sums = [list(c) for c in _counts], list(_sums)
        for generation in range(3):
            cumulative, buckets = 0, []
            for bound, count in zip([*BUCKETS, float("inf")], counts[generation], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            family.add_metric([str(generation)], buckets, sums[generation])
        yield family
