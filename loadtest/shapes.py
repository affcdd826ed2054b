"""A step ramp for Locust: 10 -> 50 -> 100 users, each step ``CLOUDFOLIO_LOADTEST_STEP_SECONDS`` long.

Load it beside the locustfile (``-f loadtest/locustfile.py,loadtest/shapes.py``); ``python -m
loadtest.run --shape step`` does.
"""

from __future__ import annotations

import os

from locust import LoadTestShape

STEPS = (10, 50, 100)


class StepRamp(LoadTestShape):
    step_seconds = float(os.environ.get("CLOUDFOLIO_LOADTEST_STEP_SECONDS", "40"))

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        step = int(elapsed // self.step_seconds)
        if step >= len(STEPS):
            return None
        return STEPS[step], 20.0
