"""Quotas at the router: off, refreshes over the daily quota are counted and logged and go ahead; on,
they answer 429 with Retry-After and a body naming the quota, start nothing, and the next UTC day
lets them through again (the usage clock is moved, nothing sleeps). ``/admin/usage`` shows it all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.core.quotas import seconds_to_next_day
from tests.router.conftest import make_stack
from tests.support.clocks import ManualUtcClock

NOON = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def job_count(stack) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for info in stack.context.pipeline.backends.storage.list("jobs/") if info.key.endswith("/job.json"))


def test_with_enforcement_off_an_exceeded_quota_is_counted_never_refused(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, CLOUDFOLIO_QUOTA_REFRESHES_PER_DAY="2", CLOUDFOLIO_REFRESH_LIMIT_PER_USER="0"):
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        answers = [stack.client.post("/bundles/octocat/refresh", json={"force": True}) for _ in range(4)]
        assert [a.status_code for a in answers] == [202] * 4
        assert 'cloudfolio_quota_exceeded_total{action="counted",quota="refreshes_per_day"} 2.0' in \
            stack.client.get("/metrics").text
        usage = stack.client.get("/admin/usage", params={"username": "octocat"}, headers=stack.admin()).json()
        assert usage["usage"]["refreshes"] == 4 and usage["usage"]["state"] == "at"
        assert usage["quotas"]["enforced"] is False


def test_with_enforcement_on_the_refresh_over_quota_is_429_until_the_next_day(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, ENABLE_QUOTA_ENFORCEMENT="true", CLOUDFOLIO_QUOTA_REFRESHES_PER_DAY="2",
                            CLOUDFOLIO_REFRESH_LIMIT_PER_USER="0"):
        clock = ManualUtcClock(NOON)
        stack.context.pipeline.backends.usage.clock = clock
        stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        answers = [stack.client.post("/bundles/octocat/refresh", json={"force": True}) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        refused = answers[-1]
        body = refused.json()
        assert (body["quota"], body["used"], body["limit"]) == ("refreshes_per_day", 2, 2)
        assert refused.headers["retry-after"] == str(seconds_to_next_day(NOON)) == str(body["retry_after_seconds"])
        assert job_count(stack) == 2, "the refused refresh started nothing"
        legacy = stack.client.post("/api/orchestrator_start", json={"username": "octocat"})
        assert legacy.status_code == 429 and legacy.json()["quota"] == "refreshes_per_day", "both routes"
        assert stack.client.post("/bundles/yungryce/refresh").status_code in (200, 202), "quotas are per user"
        clock.advance(seconds_to_next_day(NOON))
        assert stack.client.post("/bundles/octocat/refresh", json={"force": True}).status_code == 202
        report = stack.client.get("/admin/usage", headers=stack.admin()).json()
        by_user = {u["username"]: u for u in report["users"]}
        assert by_user["octocat"]["refreshes"] == 1 and by_user["octocat"]["history"]["2026-12-03"]["refreshes"] == 2
        assert report["total_users"] == 2 and sum(report["states"].values()) == 2


def test_the_usage_report_needs_the_admin_token_and_a_valid_name(tmp_path: Path) -> None:
    for stack in make_stack(tmp_path, workers=False):
        assert stack.client.get("/admin/usage").status_code == 401
        assert stack.client.get("/admin/usage", params={"username": "../x"}, headers=stack.admin()).status_code == 400
        unseen = stack.client.get("/admin/usage", params={"username": "nobody"}, headers=stack.admin()).json()
        assert unseen["usage"]["refreshes"] == 0 and unseen["usage"]["state"] == "under"
