"""The dashboard over HTTP (the in-process router stack): sign-in, the session cookie, CSRF and
Origin checks on the controls, and each control's effect and audit trail in the flag store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rollout.analysis import Measurements
from rollout.flags import QUEUE_TRAFFIC_PCT, ROLLOUT_LOCK, RolloutFlags
from rollout.measure import DirectScrape, MetricsProvider, MetricsUnavailable
from rollout.series import Point, Series
from router.pages.dashboard_data import DashboardData, chart_series
from tests.router.conftest import ADMIN_TOKEN, RouterStack, make_stack


def sign_in(stack: RouterStack) -> str:
    """Sign the stack's client in; return the page's CSRF token."""
    answer = stack.client.post("/dashboard/login", data={"token": ADMIN_TOKEN})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    page = stack.client.get("/dashboard")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_signed_out_the_dashboard_is_a_sign_in_form_and_no_data(stack: RouterStack) -> None:
    stack.set_flags(**{QUEUE_TRAFFIC_PCT: "37"})
    page = stack.client.get("/dashboard")
    assert page.status_code == 401 and 'action="/dashboard/login"' in page.text
    assert "37" not in page.text and 'id="rollout"' not in page.text and 'name="csrf"' not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    wrong = stack.client.post("/dashboard/login", data={"token": "guess"})
    assert wrong.status_code == 401 and "not the admin token" in wrong.text and "set-cookie" not in wrong.headers
    assert stack.client.get("/dashboard", headers={"Authorization": "Bearer guess"}).status_code == 403


def test_signing_in_sets_a_strict_http_only_cookie_without_the_token(stack: RouterStack) -> None:
    answer = stack.client.post("/dashboard/login", data={"token": ADMIN_TOKEN})
    cookie = answer.headers["set-cookie"]
    assert ADMIN_TOKEN not in cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/dashboard", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), cookie
    page = stack.client.get("/dashboard")
    assert page.status_code == 200 and '<dd id="percentage">0 %</dd>' in page.text
    assert page.headers["cache-control"] == "no-store"
    out = stack.client.post("/dashboard/logout", data={"csrf": re.findall(r'name="csrf" value="(\w+)"', page.text)[0]})
    assert out.status_code == 303 and stack.client.get("/dashboard").status_code == 401, "signed out"


def test_a_control_needs_the_csrf_token_and_this_origin(stack: RouterStack) -> None:
    csrf = sign_in(stack)
    for data, headers in (({"reason": "x"}, {}), ({"reason": "x", "csrf": "0" * 64}, {}),
                          ({"reason": "x", "csrf": csrf}, {"Origin": "https://evil.example"})):
        refused = stack.client.post("/dashboard/actions/rollback", data=data, headers=headers)
        assert refused.status_code == 403, (data, headers)
    assert ROLLOUT_LOCK not in stack.flags.read(), "nothing changed"
    anonymous = httpx.post(f"{stack.url}/dashboard/actions/rollback", data={"reason": "x", "csrf": csrf})
    assert anonymous.status_code == 401
    assert stack.client.post("/dashboard/actions/explode", data={"csrf": csrf}).status_code == 404


def test_rollback_and_reenable_from_the_dashboard_are_audited_like_the_cli(stack: RouterStack) -> None:
    stack.set_flags(**{QUEUE_TRAFFIC_PCT: "25"})
    csrf = sign_in(stack)
    empty = stack.client.post("/dashboard/actions/rollback", data={"csrf": csrf, "reason": "  "})
    assert empty.headers["location"] == "/dashboard?notice=no_reason" and stack.flags.read()[QUEUE_TRAFFIC_PCT] == "25"
    done = stack.client.post("/dashboard/actions/rollback", data={"csrf": csrf, "reason": "p95 doubled <b>"},
                             headers={"Origin": stack.url})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard?notice=rolled_back"
    flags = stack.flags.read()
    assert flags[QUEUE_TRAFFIC_PCT] == "0" and "p95 doubled" in flags[ROLLOUT_LOCK]
    latest = stack.flags.changes()[0]
    assert latest.actor == "dashboard@127.0.0.1" and "p95 doubled <b>" in latest.reason
    page = stack.client.get(done.headers["location"]).text
    assert "Rolled back: 0 % to the queue path" in page and "p95 doubled &lt;b&gt;" in page
    assert re.search(r'<dd id="lock" class="locked">locked: manual by dashboard@127\.0\.0\.1: p95 doubled', page)
    assert stack.client.get("/admin/rollout", headers=stack.admin()).json()["flags"]["percentage"] == 0, \
        "in force on this replica at once"
    again = stack.client.post("/dashboard/actions/reenable", data={"csrf": csrf, "reason": "fixed in 1.4.2"})
    assert again.headers["location"] == "/dashboard?notice=reenabled" and not stack.flags.read()[ROLLOUT_LOCK]
    assert stack.flags.changes()[0].reason == "re-enabled: fixed in 1.4.2"
    paused = stack.client.post("/dashboard/actions/pause", data={"csrf": csrf, "reason": "hold"})
    assert paused.headers["location"] == "/dashboard?notice=not_running", "no plan is running"


def test_scripts_use_the_bearer_header_without_a_csrf_token(stack: RouterStack) -> None:
    answer = httpx.post(f"{stack.url}/dashboard/actions/rollback", data={"reason": "from a script"},
                        headers=stack.admin())
    assert answer.status_code == 303 and "from a script" in stack.flags.read()[ROLLOUT_LOCK]
    assert httpx.get(f"{stack.url}/dashboard", headers=stack.admin()).status_code == 200


@pytest.fixture
def disabled(tmp_path: Path) -> Iterator[RouterStack]:
    yield from make_stack(tmp_path, CLOUDFOLIO_ADMIN_TOKEN="")


def test_without_an_admin_token_the_dashboard_is_disabled_not_open(disabled: RouterStack) -> None:
    for answer in (disabled.client.get("/dashboard"), disabled.client.post("/dashboard/login", data={"token": ""})):
        assert answer.status_code == 403 and "CLOUDFOLIO_ADMIN_TOKEN" in answer.json()["error"]


@pytest.fixture
def prometheus_down(tmp_path: Path) -> Iterator[RouterStack]:
    yield from make_stack(tmp_path, CLOUDFOLIO_ROLLOUT_METRICS="prometheus",
                          CLOUDFOLIO_PROMETHEUS_URL="http://127.0.0.1:9")


def test_charts_fall_back_to_the_replicas_own_metrics_while_prometheus_does_not_answer(
        prometheus_down: RouterStack) -> None:
    for _ in range(3):
        prometheus_down.client.get("/bundles/octocat")
    page = prometheus_down.client.get("/dashboard", headers=prometheus_down.admin())
    assert page.status_code == 200
    assert "this router replica&#x27;s own metrics (prometheus did not answer)" in page.text
    assert "MetricsUnavailable: Prometheus at http://127.0.0.1:9 did not answer" in page.text
    assert 'id="stage"' in page.text and 'id="jobs"' in page.text, "the other sections are all there"


class Charted(MetricsProvider):
    """A provider with a history: one queue point."""

    name = "charted"

    def measure(self, window_seconds: float) -> Measurements:
        raise MetricsUnavailable("not used")

    def series(self, span: float, step: float) -> Series:
        return {"queue": [Point(1.0, 2.0, 0.5, 0.1)], "legacy": []}


def test_charts_come_from_the_rollout_provider_when_it_keeps_a_history(stack: RouterStack) -> None:
    data = DashboardData(time.time(), RolloutFlags(), "file", "ok")
    chart_series(stack.context, data, Charted())
    assert data.series["queue"] == [Point(1.0, 2.0, 0.5, 0.1)] and data.metrics_scope.startswith("every replica")
    chart_series(stack.context, data, DirectScrape([]))  # the direct scrape keeps none: the replica's own
    assert data.metrics_scope == "this router replica's own metrics" and set(data.series) == {"queue", "legacy"}
