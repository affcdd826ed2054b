"""The operator dashboard in a real browser: signed out it shows a sign-in form and no data; signed in
it shows a provoked divergence with its repo diff, the traffic per path, the queues and the jobs; a
rollback from its controls shows the lock and the reason, and re-enabling clears it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.waiting import wait_until
from tests.router.pages.conftest import ADMIN_TOKEN, shoot

pytestmark = pytest.mark.integration


def sign_in(page: Any, router: str) -> None:
    page.goto(f"{router}/dashboard")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#stage")


def provoke_divergence(github: FakeGitHub, router: str) -> str:
    """A legacy-path refresh whose queue shadow reads another size for repo-0003 at the same revision."""
    username = f"db{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, 5)
    github.mutate_after_listings(username, 1, "repo-0003", size=9999)
    started = httpx.post(f"{router}/bundles/{username}/refresh", json={}, timeout=30)
    assert started.status_code == 202 and started.json()["path"] == "legacy", started.text

    def diverged() -> bool:
        recent = httpx.get(f"{router}/admin/shadow", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
        return any(c["username"] == username and c["verdict"] == "divergence" for c in recent["recent"])

    wait_until(diverged, 90, lambda: f"no divergence recorded for {username}", interval=0.5)
    return username


def test_signed_out_the_dashboard_shows_a_sign_in_form_and_no_data(page: Any, shadow_router: str) -> None:
    page.goto(f"{shadow_router}/dashboard")
    assert page.is_visible("#token") and page.locator("#rollout").count() == 0
    text = page.inner_text("body")
    assert "Queue path" not in text and "Recent jobs" not in text
    page.fill("#token", "not-the-token")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error")
    assert "not the admin token" in page.inner_text("#login-error") and page.locator("#rollout").count() == 0
    shoot(page, "dashboard-sign-in")


def test_a_provoked_divergence_shows_with_its_repo_diff(page: Any, github: FakeGitHub, shadow_router: str) -> None:
    username = provoke_divergence(github, shadow_router)
    sign_in(page, shadow_router)
    divergence = page.locator(".divergence", has_text=username)
    assert divergence.count() == 1, page.inner_text("#shadow")
    assert "repo-0003" in divergence.locator(".repos").inner_text()
    cells = divergence.locator("tbody tr").first.locator("td").all_inner_texts()
    assert cells[:2] == ["repo-0003", "size"] and "9999" in cells[2:], cells
    assert int(page.inner_text("#verdicts li[data-verdict=divergence] strong")) >= 1
    assert page.inner_text("#percentage") == "0 %" and page.inner_text("#shadow-state") == "on, sampling 100 %"
    points = page.get_attribute("#charts figure:first-of-type g[data-path=legacy]", "data-points")
    assert points is not None and int(points) >= 1, "the legacy path's requests are charted"
    assert page.locator(f"#jobs tr:has-text('{username}')").count() >= 1
    queues = page.locator("#queues tr[data-queue]").evaluate_all("rows => rows.map(r => r.dataset.queue)")
    assert len(queues) == 12 and sum(name.endswith(".XQ") for name in queues) == 4, queues
    shoot(page, "dashboard")


def test_a_rollback_from_the_dashboard_shows_the_lock_and_the_reason(page: Any, shadow_router: str) -> None:
    sign_in(page, shadow_router)
    page.on("dialog", lambda dialog: dialog.accept())  # the control asks "Roll back?" first
    page.fill("#rollback input[name=reason]", "divergence on repo-0003 <b>bold</b>")
    page.click("#rollback button")
    page.wait_for_selector("#notice")
    assert "Rolled back" in page.inner_text("#notice")
    lock = page.inner_text("#lock")
    assert lock.startswith("locked: manual by dashboard@127.0.0.1: divergence on repo-0003 <b>bold</b>"), lock
    first_change = page.locator("#changes tbody tr").first
    assert "divergence on repo-0003 <b>bold</b>" in first_change.locator(".why").inner_text()
    assert page.locator("#changes b").count() == 0, "the reason is text, not markup"
    assert page.is_enabled("#reenable button") and page.is_disabled("#rollback button")
    shoot(page, "dashboard-rolled-back")
    page.fill("#reenable input[name=reason]", "fixed in the merge step")
    page.click("#reenable button")
    page.wait_for_selector("#notice")
    assert page.inner_text("#lock") == "unlocked" and "re-enabled: fixed" in page.inner_text("#changes")
