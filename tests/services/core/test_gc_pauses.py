"""GC pauses are timed into python_gc_pause_seconds, and freezing the start-up objects takes them out of
full collections."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from services.core.gc_pauses import freeze_startup_objects
from services.core.observations import Observations


def test_every_collection_lands_in_the_histogram_of_its_generation() -> None:
    registry = CollectorRegistry()
    Observations().bind(registry)
    before = registry.get_sample_value("python_gc_pause_seconds_count", {"generation": "2"}) or 0
    gc.collect()
    gc.collect()
    assert registry.get_sample_value("python_gc_pause_seconds_count", {"generation": "2"}) == before + 2
    assert registry.get_sample_value("python_gc_pause_seconds_sum", {"generation": "2"}) > 0
    assert registry.get_sample_value("python_gc_pause_seconds_bucket", {"generation": "2", "le": "+Inf"}) == before + 2


def test_frozen_start_up_objects_are_out_of_the_collectors_reach() -> None:
    assert freeze_startup_objects(enabled=False) == 0
    try:
        frozen = freeze_startup_objects()
        assert frozen > 1000 and 0 < gc.get_freeze_count() <= frozen  # frozen objects may still be freed
        assert len(gc.get_objects()) < frozen, "what the collector still tracks is what came after"
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
