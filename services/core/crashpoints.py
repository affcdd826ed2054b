"""Named points in the pipeline where the chaos tests kill a worker or the router, exactly there.

``crash_point(name)`` does nothing unless the process was started with
``CLOUDFOLIO_TEST_CRASH_AT=<name>:<folder>`` (the chaos tests set it for the process they will
kill, and no deployment does). Then the first time that point is reached it writes the marker file
``<folder>/<name>`` and waits to be killed (60 s at most, then carries on), so the test can SIGKILL
the process at that very point and prove the work survives.

Points: ``after_job_created`` (the router stored a new job, its plan not sent),
``after_plan_stored`` (plan written, no sync sent), ``after_merge_claim`` (claim won, merge not
sent), ``mid_merge`` (half the records streamed), ``after_job_completed`` (training not handed off).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_ENV = "CLOUDFOLIO_TEST_CRASH_AT"
_reached: set[str] = set()


def crash_point(name: str) -> None:
    point, _, folder = os.environ.get(_ENV, "").partition(":")
    if point != name or not folder or name in _reached:
        return
    _reached.add(name)
    marker = Path(folder) / name
    try:
        marker.touch(exist_ok=False)  # the first process to get here is the one the test kills
    except FileExistsError:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
