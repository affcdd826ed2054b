"""The C heap's figures: in-use bytes follow what the program holds, and the collector shows them."""

from __future__ import annotations

import platform

import pytest
from prometheus_client import CollectorRegistry

from services.core.heap_usage import HeapCollector, heap_usage

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallinfo2 is glibc's")


def test_in_use_bytes_follow_what_is_held_and_come_back_down() -> None:
    before = heap_usage()
    assert before is not None
    held = [bytearray(200_000) for _ in range(100)]  # 20 MB in blocks malloc serves itself
    during = heap_usage()
    del held
    after = heap_usage()
    assert during is not None and after is not None
    assert during["in_use"] - before["in_use"] >= 18 * 2**20, (before, during)
    assert during["in_use"] - after["in_use"] >= 18 * 2**20, (during, after)


def test_the_collector_shows_in_use_and_free_bytes() -> None:
    registry = CollectorRegistry()
    registry.register(HeapCollector())
    in_use = registry.get_sample_value("process_heap_bytes", {"state": "in_use"})
    free = registry.get_sample_value("process_heap_bytes", {"state": "free"})
    assert in_use is not None and in_use > 1e6 and free is not None and free >= 0
