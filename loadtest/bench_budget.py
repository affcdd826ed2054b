"""How many 10-repo refreshes one GitHub token sustains per hour, with and without webhooks and ETags.

GitHub charges a token for every request it answers, except a conditional request it answers
``304 Not Modified``; the token has 5,000 an hour. This benchmark runs the real queue pipeline (the
embedded broker, the real ``GitHubSource``) against the GitHub test server for one user with 10
documented repos and counts, per kind of refresh, the requests sent and the requests charged (answers
that are not 304), then divides the hourly budget by the charge:

- ``forced``: a forced refresh (everything re-synced), the legacy app's only kind;
- ``poll``: the front end's unforced refresh after the freshness window when nothing changed (the plan
  lists the repos, compares their metadata with the stored records and syncs none);
- ``push``: what a signed push webhook starts after one repo changed (the plan syncs that repo only);
- each without ETags (no conditional requests) and with them (the project's default: ETags in storage).

Without webhooks a front end that wants to see pushes within minutes must poll; with them, it refreshes
once per push. Prints the table; ``--record`` writes it into docs/MULTI-TENANT-DESIGN.md between its
``budget-bench`` markers. From the repository root:

    python -m loadtest.bench_budget --record
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "MULTI-TENANT-DESIGN.md"
BEGIN, END = "<!-- budget-bench:begin (python -m loadtest.bench_budget --record) -->", "<!-- budget-bench:end -->"
HOURLY = 5000


class NoEtags:
    """An ETag cache that keeps nothing: every request is unconditional, as the legacy client sent them."""

    def get(self, username: str, url: str) -> None:
        return None

    def put(self, username: str, url: str, etag: str, body: Any, size: int | None = None) -> None:
        return None


def measure(etags: bool, repos: int) -> dict[str, tuple[int, int]]:
    """``{kind: (sent, charged)}`` for one user of ``repos`` repos."""
    from cloudfolio.devserver.github import start_github_server
    from cloudfolio.devserver.waiting import wait_for_job
    from services.core.settings import Settings
    from services.core.sources.etags import StorageEtagCache
    from services.core.sources.github import GitHubSource
    from services.core.storage.local import LocalBackend
    from services.queue.pipeline import build_pipeline
    from services.queue.workers import InProcessWorkers

    github, server = start_github_server()
    github.add_generated_user("tenant", repos)
    results: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as data:
        settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": data, "CLOUDFOLIO_REPO_SOURCE": "github",
                                      "CLOUDFOLIO_GITHUB_API_URL": github.base_url})
        storage = LocalBackend(Path(data) / "storage")
        source = GitHubSource(github.base_url, etag_cache=StorageEtagCache(storage) if etags else NoEtags())
        pipeline = build_pipeline(settings, storage=storage, source=source)
        try:
            with InProcessWorkers(pipeline, threads=8):
                def run(kind: str, force: bool) -> None:
                    github.log.clear()
                    wait_for_job(pipeline.backends.jobs, pipeline.submit_refresh("tenant", force=force).job_id, 120)
                    answered = list(github.log)
                    results[kind] = (len(answered), sum(1 for r in answered if r.status != 304))

                run("first", True)
                run("forced", True)
                run("poll", False)
                github.touch("tenant", "repo-0003", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                run("push", False)
        finally:
            pipeline.close()
            server.stop()
    return results


def per_hour(charged: int) -> str:
    return f"{HOURLY // charged:,}" if charged else "no limit (nothing charged)"


def table(repos: int) -> list[str]:
    without, with_etags = measure(False, repos), measure(True, repos)
    lines = [f"| refresh of {repos} repos | requests sent | charged without ETags | charged with ETags | "
             f"refreshes/hour without ETags | with ETags |", "| --- | --- | --- | --- | --- | --- |"]
    names = {"forced": "forced (everything re-synced)", "poll": "poll: unforced, nothing changed",
             "push": "push webhook: one repo changed"}
    for kind, label in names.items():
        sent, charged = with_etags[kind][0], without[kind][1]
        charged_etags = with_etags[kind][1]
        lines.append(f"| {label} | {sent} | {charged} | {charged_etags} | {per_hour(charged)} | "
                     f"{per_hour(charged_etags)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench_budget", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=10, help="repos of the user (default 10)")
    parser.add_argument("--record", action="store_true", help="write the table into docs/MULTI-TENANT-DESIGN.md")
    args = parser.parse_args(argv)
    lines = table(args.repos)
    print("\n".join(lines))
    if args.record:
        block = "\n".join([BEGIN, f"Measured {datetime.now(UTC):%Y-%m-%d} with `python -m loadtest.bench_budget "
                           f"--record` (REST, no token: GraphQL off).", "", *lines, END])
        text = DOC.read_text("utf-8")
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: block, text, flags=re.S) \
            if BEGIN in text else text.rstrip() + "\n\n" + block + "\n"
        DOC.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
