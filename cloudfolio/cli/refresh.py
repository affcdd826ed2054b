"""``cloudfolio refresh USERNAME``: submit a refresh job and wait for it with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time

from cloudfolio.cli.common import add_data_dir, load_settings
from cloudfolio.cli.exits import RET_FAILED, RET_OK
from services.core.jobs import Job, JobNotFound, JobStore
from services.core.names import validate_username
from services.core.redaction import redact_url
from services.queue.pipeline import build_pipeline
from services.queue.workers import InProcessWorkers


def _wait(jobs: JobStore, job: Job, username: str, timeout: float, quiet: bool) -> Job | None:
    """Poll the job until it is terminal, drawing the bar; None when it expired or we gave up."""
    from tqdm import tqdm

    deadline = time.monotonic() + timeout
    bar = None
    try:
        while True:
            try:
                job = jobs.get(job.job_id)
            except JobNotFound:
                print("the job expired before it finished", file=sys.stderr)
                return None
            if bar is None and job.total:  # nothing to sync (total 0) draws no bar
                bar = tqdm(total=job.total, desc=f"syncing {username}", unit="repo", disable=quiet, mininterval=0.2)
            if bar is not None:
                bar.n = jobs.progress_of(job).done
                bar.refresh()
            if job.terminal:
                return job
            if time.monotonic() > deadline:
                print(f"gave up waiting after {timeout:.0f}s; the job goes on (id {job.job_id})", file=sys.stderr)
                return None
            time.sleep(0.1)
    finally:
        if bar is not None:
            bar.close()


def _report(job: Job) -> int:
    if job.status != "completed":
        print(f"refresh failed: {'; '.join(job.reasons)}", file=sys.stderr)
        return RET_FAILED
    print(f"bundle fingerprint: {job.bundle_fingerprint}")
    if job.total == 0:
        print(f"repos: {job.repos_count} (up to date, nothing synced)")
    else:
        print(f"repos: {job.repos_count} ({job.total - len(job.failed_repos)} synced, "
              f"{len(job.failed_repos)} failed)")
    for failure in job.failed_repos:
        print(f"  failed: {failure['repo']}: {failure['error']}", file=sys.stderr)
    return RET_OK


def cmd_refresh(args: argparse.Namespace) -> int:
    settings = load_settings(args, one_shot=True)
    username = validate_username(args.username)
    pipeline = build_pipeline(settings)
    workers = InProcessWorkers(pipeline).start() if pipeline.embedded else None
    try:
        job = pipeline.submit_refresh(username, force=args.force)
        where = "in this process" if workers else "by the workers on " + redact_url(settings.broker_url)
        print(f"job {job.job_id} queued ({where})", file=sys.stderr)
        finished = _wait(pipeline.backends.jobs, job, username, args.timeout, args.quiet)
    finally:
        if workers is not None:
            workers.stop()
        pipeline.close()
    return RET_FAILED if finished is None else _report(finished)


def register(commands: argparse._SubParsersAction) -> None:
    refresh = commands.add_parser("refresh", help="build a user's bundle now and wait for it",
                                  description="Submit a refresh job for USERNAME and wait for it: plan (list "
                                  "repos, find stale ones), sync each stale repo, merge the bundle, then print "
                                  "its fingerprint and repo count. With no CLOUDFOLIO_BROKER_URL the queue "
                                  "workers run in this process; with one, `cloudfolio worker` processes do "
                                  "the work.")
    refresh.add_argument("username", help="GitHub login (sample portfolio: yungryce or octocat)")
    refresh.add_argument("--force", action="store_true", help="sync every repo, not only stale ones")
    add_data_dir(refresh)
    refresh.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    refresh.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job (default 600)")
    refresh.add_argument("-v", "--verbose", action="store_true", help="log what the actors do")
    refresh.set_defaults(func=cmd_refresh)
