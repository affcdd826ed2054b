"""The dashboard's HTML: every value from GitHub, an operator or an alert is shown as text."""

from __future__ import annotations

import time

from rollout.flags import RolloutFlags
from rollout.stores import FlagChange
from router.pages.dashboard import dashboard_page
from router.pages.dashboard_data import DashboardData, parse_lock
from router.shadow import Comparison
from services.core.jobs import Job, Progress

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_hostile_values_everywhere_are_escaped() -> None:
    divergence = Comparison("c1", "octo", "legacy", "queue", "divergence",
                            diff={"divergent": ["repo-1"]}, fields={"repo-1": {"language": [HOSTILE, "Go"]}})
    job = Job("a" * 32, "octo", "live", False, "2026-12-03T09:00:00+00:00", "2026-12-03T10:00:00+00:00",
              status="processing", total=4, extra={"path": HOSTILE})
    data = DashboardData(time.time(), RolloutFlags(percentage=10, lock=HOSTILE), "file", "ok",
                         lock=parse_lock(HOSTILE), changes=[FlagChange("QUEUE-TRAFFIC-PCT", "0", "10", HOSTILE,
                                                                        HOSTILE, "2026-12-03T09:00:00")],
                         divergences=[divergence], jobs=[(job, Progress(4, 2, 1, {}))],
                         shadow_counts={"divergence": 1}, errors={"queues": HOSTILE})
    page = dashboard_page(data, csrf="0" * 64, notice="<script>")
    assert "<img" not in page and "alert(2)</script>" not in page and page.count("<script") == 1
    assert page.count("&lt;img src=x") >= 5, "lock, actor, reason, diff, job path, queue error"
    assert '<progress value="3" max="4"></progress> 3/4' in page
    assert 'id="notice"' not in page, "an unknown notice shows nothing: no text is reflected"


def test_the_lock_and_the_plan_state_read_as_words_in_the_changes() -> None:
    changes = [FlagChange("ROLLOUT-PLAN-STATE", '{"status": "running", "step": 1}', None, "rollout-plan", "promoted",
                          "2026-12-03T09:00:00"),
               FlagChange("ROLLOUT-LOCK", "", '{"metric": "manual"}', "ops", "re-enabled: fixed",
                          "2026-12-03T09:01:00")]
    lock = parse_lock('{"metric": "error_rate", "value": 0.07, "threshold": 0.05, "window": "5m", "alert_id": "A1",'
                      ' "source": "azure-monitor", "at": "2026-12-03T09:00:00"}')
    data = DashboardData(time.time(), RolloutFlags(lock="x"), "file", "ok", lock=lock, changes=changes)
    page = dashboard_page(data, csrf="c")
    assert "– → plan running, step 2" in page and "locked → (cleared)" in page
    assert "locked: error_rate = 0.07 (threshold 0.05, window 5m); A1; via azure-monitor at 2026-12-03 09:00:00" in page
