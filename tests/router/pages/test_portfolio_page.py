"""The portfolio page in a real browser: a refresh on either path shows its progress and then the
repo cards; a failed job shows its reasons and a retry that works; user data is shown as text."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from cloudfolio.devserver.github import FakeGitHub
from tests.router.pages.conftest import shoot

pytestmark = pytest.mark.integration


def fresh_user(github: FakeGitHub, repos: int) -> str:
    username = f"pg{uuid.uuid4().hex[:8]}"
    github.add_generated_user(username, repos)
    return username


@pytest.mark.parametrize("path", ["queue", "legacy"])
def test_a_refresh_shows_its_progress_and_then_the_repo_cards(path: str, page: Any, github: FakeGitHub,
                                                               routers: dict[str, str]) -> None:
    username = fresh_user(github, 6)
    slow = sorted(github.users[username])[0]  # one repo's first fetch takes 6 s: the bar shows on the way
    github.inject(rf"^/repos/{username}/{slow}(/|$)", "latency", seconds=6)
    page.goto(f"{routers[path]}/portfolio/{username}")
    page.wait_for_selector("#progress:not([hidden])", state="attached")
    assert "Syncing" in page.inner_text("#status")
    if path == "queue":  # the legacy path counts nothing until it is done (Durable Functions)
        page.wait_for_selector("#progress[max='6']", state="attached")
        assert "of 6 repositories" in page.inner_text("#status")
    shoot(page, f"portfolio-{path}-syncing")
    page.wait_for_selector("#app[data-state=completed]", timeout=90_000)
    names = page.locator(".card h3").all_inner_texts()
    assert sorted(names) == sorted(github.users[username]), names
    assert page.is_hidden("#progress") and f"served by the {path} path" in page.inner_text("#status")
    shoot(page, f"portfolio-{path}-completed")


def test_a_failed_refresh_shows_the_reasons_and_retry_works(page: Any, github: FakeGitHub,
                                                             routers: dict[str, str]) -> None:
    username = f"pg{uuid.uuid4().hex[:8]}"  # not on GitHub (yet): the job fails, user not found
    page.goto(f"{routers['queue']}/portfolio/{username}")
    page.wait_for_selector("#app[data-state=failed]", timeout=60_000)
    assert page.is_visible("#retry") and "unknown github user" in page.inner_text("#reasons").lower()
    shoot(page, "portfolio-failed")
    github.add_generated_user(username, 3)
    page.click("#retry")
    page.wait_for_selector("#app[data-state=completed]", timeout=60_000)
    assert page.locator(".card").count() == 3 and page.is_hidden("#retry")


def test_a_hostile_repo_description_is_shown_as_text(page: Any, github: FakeGitHub, routers: dict[str, str]) -> None:
    username = fresh_user(github, 1)
    hostile = '<img src=x onerror="window.__owned=1"><script>window.__owned=2</script>'
    github.add_repo(username, {"name": "evil", "description": hostile, "id": 4242, "size": 1,
                               "pushed_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
                               "html_url": "javascript:alert(1)", "default_branch": "main"})
    page.goto(f"{routers['queue']}/portfolio/{username}")
    page.wait_for_selector("#app[data-state=completed]", timeout=60_000)
    evil = page.locator(".card", has_text="evil")
    assert evil.locator(".desc").inner_text() == hostile
    assert page.evaluate("window.__owned") is None and page.locator(".cards img, .cards script").count() == 0
    assert evil.locator("a").get_attribute("href") is None, "a javascript: URL is never a link"


def test_the_page_is_served_with_a_strict_policy_and_escapes_the_name(routers: dict[str, str]) -> None:
    answer = httpx.get(f"{routers['queue']}/portfolio/octocat", timeout=10)
    policy = answer.headers["content-security-policy"]
    assert answer.status_code == 200 and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff" and "<script>" not in answer.text.replace(
        '<script src="/static/portfolio.js"></script>', "")
    bad = httpx.get(f"{routers['queue']}/portfolio/%3Cscript%3E", timeout=10)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/json")
    script = httpx.get(f"{routers['queue']}/static/portfolio.js", timeout=10)
    assert script.headers["content-type"].startswith("application/javascript")
    again = httpx.get(f"{routers['queue']}/static/portfolio.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
