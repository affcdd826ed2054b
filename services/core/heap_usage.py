"""What the C heap holds: ``process_heap_bytes{state}``, from glibc's ``mallinfo2``.

A process whose RSS rises while its Python objects stay flat is either leaking outside Python or
holding freed memory it cannot give back (fragmentation). RSS alone cannot tell them apart; glibc's
own accounting can: ``in_use`` is what the program holds through ``malloc`` (Python's objects over
512 bytes, the C extensions' buffers), ``free`` is what malloc keeps for reuse without returning it.
A leak raises ``in_use``; fragmentation raises ``free``. Python's small objects live in pymalloc
arenas mapped outside malloc and appear in neither (they are in ``tracemalloc``'s figures).

Off glibc, or on a glibc older than 2.33 (no ``mallinfo2``), :func:`heap_usage` is None and the
collector shows nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _mallinfo2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


def heap_usage() -> dict[str, int] | None:
    """``{"in_use", "free", "mapped"}`` bytes of glibc's heap (``mapped``: large blocks given their own
    mapping, part of ``in_use``), or None where glibc cannot tell."""
    function = _mallinfo2()
    if function is None:
        return None
    info = function()
    return {"in_use": int(info.uordblks + info.hblkhd), "free": int(info.fordblks), "mapped": int(info.hblkhd)}


class HeapCollector(Collector):
    """``process_heap_bytes{state="in_use"|"free"}`` at each collection."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        usage = heap_usage()
        if usage is None:
            return
        family = GaugeMetricFamily("process_heap_bytes", "Bytes of the C heap (glibc malloc): held by the "
                                   "program (in_use) or freed and kept for reuse (free).", labels=["state"])
        family.add_metric(["in_use"], usage["in_use"])
        family.add_metric(["free"], usage["free"])
        yield family
