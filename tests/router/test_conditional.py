"""Conditional GETs of bundles and records: ``ETag`` on every answer, ``If-None-Match`` -> 304.

On the queue path the ETag comes from the bundle blob's storage etag, so a merge of new records
changes it at once, a merge that found nothing new keeps it, and the router's in-memory copy of the
answer is used only while the blob is unchanged.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from router.conditional import client_has, etag_of_blob
from services.core.sources.local import sample_portfolio_root
from tests.router.conftest import RouterStack, make_stack


def refreshed(stack: RouterStack, username: str, force: bool = False) -> None:
    started = stack.client.post(f"/bundles/{username}/refresh", json={"force": force})
    assert (started.status_code == 202) if force else (started.status_code in (200, 202)), started.text
    if started.status_code == 202:
        assert stack.wait_job(username, started.json()["job_id"])["status"] == "completed"


def test_queue_path_bundle_is_304_while_unchanged_even_after_a_forced_refresh(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    refreshed(stack, "octocat")
    first = stack.client.get("/bundles/octocat")
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and first.json()["fingerprint"]
    unchanged = stack.client.get("/bundles/octocat", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    hits = stack.context.queue.bodies.hits
    again = stack.client.get("/bundles/octocat")
    assert again.content == first.content and stack.context.queue.bodies.hits == hits + 1, "served from memory"
    refreshed(stack, "octocat", force=True)  # the source has nothing new: the merge leaves the bundle as it was
    kept = stack.client.get("/bundles/octocat", headers={"If-None-Match": etag})
    assert kept.status_code == 304 and kept.headers["etag"] == etag


def test_a_merge_of_changed_records_changes_the_etag(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(sample_portfolio_root() / "octocat", source / "octocat")
    stack = make_stack(tmp_path / "data", CLOUDFOLIO_REPO_SOURCE="local", CLOUDFOLIO_LOCAL_SOURCE_DIR=str(source))
    with contextlib.closing(stack) as steps:
        running = next(steps)
        running.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
        refreshed(running, "octocat")
        first = running.client.get("/bundles/octocat")
        readme = source / "octocat" / "Hello-World" / "README.md"
        readme.write_text(readme.read_text() + "\nA line added at the source.\n")
        refreshed(running, "octocat", force=True)  # a forced refresh syncs every repo: the README is read again
        after = running.client.get("/bundles/octocat", headers={"If-None-Match": first.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
        hello = next(record for record in after.json()["data"] if record["name"] == "Hello-World")
        assert "A line added at the source." in hello["readme"]
        assert after.json()["last_modified"] > first.json()["last_modified"]


def test_queue_path_record_has_an_etag_and_304(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    refreshed(stack, "octocat")
    record = stack.client.get("/bundles/octocat/Hello-World")
    assert record.status_code == 200 and record.json()["data"]["name"] == "Hello-World"
    repeat = stack.client.get("/bundles/octocat/Hello-World", headers={"If-None-Match": f'W/{record.headers["etag"]}'})
    assert repeat.status_code == 304, "weak comparison, as RFC 9110 asks for If-None-Match"
    other = stack.client.get("/bundles/octocat/Hello-World", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_legacy_path_bundle_has_an_etag_and_304(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "0"})
    refreshed(stack, "octocat")
    first = stack.client.get("/bundles/octocat")
    assert first.status_code == 200 and first.json()["path"] == "legacy"
    assert stack.client.get("/bundles/octocat", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_errors_carry_no_etag(stack: RouterStack) -> None:
    stack.set_flags(**{"QUEUE-TRAFFIC-PCT": "100"})
    missing = stack.client.get("/bundles/nobody-here", headers={"If-None-Match": "*"})
    assert missing.status_code == 404 and "etag" not in missing.headers


def test_if_none_match_parsing() -> None:
    class Fake:
        def __init__(self, header: str) -> None:
            self.headers = {"if-none-match": header}

    etag = etag_of_blob('"0x8DC1"')
    assert etag == '"0x8DC1"'
    assert client_has(Fake('"a", "0x8DC1"'), etag)  # type: ignore[arg-type]
    assert client_has(Fake("*"), etag)  # type: ignore[arg-type]
    assert not client_has(Fake('"0x8DC"'), etag)  # type: ignore[arg-type]
