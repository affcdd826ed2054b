"""Jobs on storage: idempotent per-repo completion, one merge claim, terminal states, expiry."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

import pytest

from services.core.jobs import JobNotFound, JobStatus, JobStore, Progress, RepoOutcome
from services.core.storage import StorageBackend, StorageUnavailable
from services.core.storage.local import LocalBackend
from tests.support.clocks import ManualUtcClock


def test_create_and_read(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    job = jobs.create("yungryce", mode="shadow", force=True)
    read = jobs.get(job.job_id)
    assert (read.username, read.mode, read.force, read.status, read.total) == ("yungryce", "shadow", True,
                                                                               "pending", None)
    assert storage.head(f"jobs/{job.job_id}/job.json").metadata["username"] == "yungryce"


def test_unknown_and_malformed_ids_read_as_not_found(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    for job_id in ["0" * 32, "../../etc", "x"]:
        with pytest.raises(JobNotFound):
            jobs.get(job_id)


def test_expired_job_reads_as_not_found(local_storage: LocalBackend) -> None:
    clock = ManualUtcClock()
    jobs = JobStore(local_storage, ttl_seconds=60, clock=clock)
    job = jobs.create("octocat")
    clock.advance(59.9)
    assert jobs.get(job.job_id).job_id == job.job_id
    clock.advance(0.2)
    with pytest.raises(JobNotFound):
        jobs.get(job.job_id)


def test_progress_counts_each_repo_once(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    job = jobs.create("octocat")
    assert jobs.set_total(job.job_id, 3).status == JobStatus.PROCESSING
    first = jobs.record_repo(job.job_id, "a")
    again = jobs.record_repo(job.job_id, "a")
    assert first.counted and not again.counted
    assert (again.done, again.total, again.all_done) == (1, 3, False)
    jobs.record_repo(job.job_id, "b", outcome=RepoOutcome.FAILED, error="HTTP 500")
    last = jobs.record_repo(job.job_id, "c")
    assert (last.done, last.all_done) == (3, True)
    progress = jobs.progress(job.job_id)
    assert (progress.completed, progress.failed, progress.all_done) == (2, 1, True)
    assert progress.failed_repos == {"b": "HTTP 500"}


def test_a_replayed_success_replaces_a_failure_but_never_the_reverse(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    job = jobs.create("octocat")
    jobs.set_total(job.job_id, 1)
    jobs.record_repo(job.job_id, "a", outcome=RepoOutcome.FAILED, error="boom")
    upgraded = jobs.record_repo(job.job_id, "a")
    assert upgraded.counted and upgraded.upgraded and upgraded.done == 1
    assert (jobs.progress(job.job_id).completed, jobs.progress(job.job_id).failed) == (1, 0)
    downgraded = jobs.record_repo(job.job_id, "a", outcome=RepoOutcome.FAILED, error="late failure")
    assert not downgraded.counted and jobs.progress(job.job_id).completed == 1


def test_merge_claim_is_won_once_per_generation(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    job = jobs.create("octocat")
    assert jobs.claim_merge(job.job_id) is True
    assert jobs.claim_merge(job.job_id) is False
    assert jobs.claim_merge(job.job_id, "replay-monty") is True
    assert jobs.claim_merge(job.job_id, "replay-monty") is False
    with pytest.raises(ValueError):
        jobs.claim_merge(job.job_id, "../x")


def test_terminal_states(storage: StorageBackend) -> None:
    jobs = JobStore(storage)
    done = jobs.create("octocat")
    completed = jobs.complete(done.job_id, bundle_fingerprint="f" * 32, repos_count=3, failed_repos={"x": "e"})
    assert (completed.status, completed.bundle_fingerprint, completed.failed_repos) == (
        JobStatus.COMPLETED, "f" * 32, [{"repo": "x", "error": "e"}])
    assert jobs.fail(done.job_id, "sweeper").status == JobStatus.COMPLETED, "a completed job keeps its result"
    broken = jobs.create("octocat")
    failed = jobs.fail(broken.job_id, "no repo could be merged")
    assert failed.status == JobStatus.FAILED and failed.reasons == ["no repo could be merged"] and failed.finished_at
    assert jobs.set_total(broken.job_id, 5).status == JobStatus.FAILED, "a terminal job is not reopened"


def _record_all(root: str, job_id: str, seed: int, repos: int, queue: multiprocessing.Queue) -> None:
    jobs = JobStore(LocalBackend(root))
    names = [f"repo-{i:03d}" for i in range(repos)]
    random.Random(seed).shuffle(names)
    claims = 0
    for name in names:
        recorded = jobs.record_repo(job_id, name)
        if recorded.all_done and jobs.claim_merge(job_id):
            claims += 1
    queue.put(claims)


def test_eight_processes_recording_200_repos_end_with_200_and_one_merge_claim(tmp_path: Path) -> None:
    # Given a job of 200 repos, when 8 processes each record every repo (so every completion is
    # delivered 8 times, in different orders), then exactly 200 count and one merge is claimed.
    root = str(tmp_path / "storage")
    jobs = JobStore(LocalBackend(root))
    job = jobs.create("yungryce")
    jobs.set_total(job.job_id, 200)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    processes = [context.Process(target=_record_all, args=(root, job.job_id, seed, 200, results)) for seed in range(8)]
    for process in processes:
        process.start()
    claims = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    progress = jobs.progress(job.job_id)
    assert (progress.completed, progress.failed, progress.total) == (200, 0, 200)
    assert sum(claims) == 1


class CountingStorage(LocalBackend):
    """A local backend that counts listings (``count`` and ``list``) and job reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listings = 0
        self.reads: dict[str, int] = {}

    def count(self, prefix: str) -> int:
        self.listings += 1
        return super().count(prefix)

    def list(self, prefix: str = ""):  # type: ignore[override]
        self.listings += 1
        return super().list(prefix)

    def get(self, key: str):  # type: ignore[override]
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key)


def test_recording_repos_lists_markers_only_when_the_last_may_be_done(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    jobs = JobStore(storage)
    job = jobs.create("yungryce")
    jobs.set_total(job.job_id, 300)
    storage.reads.clear()
    results = [jobs.record_repo(job.job_id, f"repo-{i}") for i in range(300)]
    assert [r.all_done for r in results] == [False] * 299 + [True]
    assert storage.listings == 1, "one listing, for the last repo"
    assert storage.reads == {f"jobs/{job.job_id}/job.json": 300}, "one job read per repo"


def test_a_marker_whose_count_was_lost_is_counted_by_its_redelivery(tmp_path: Path) -> None:
    # a worker died between writing a repo's marker and counting it; its message is redelivered
    storage = LocalBackend(tmp_path)
    jobs = JobStore(storage)
    job = jobs.create("yungryce")
    jobs.set_total(job.job_id, 3)
    storage.put(f"jobs/{job.job_id}/repos/repo-1", b"{}", metadata={"outcome": "completed"}, create_only=True)
    jobs.record_repo(job.job_id, "repo-0")
    redelivered = jobs.record_repo(job.job_id, "repo-1")
    assert not redelivered.counted and not redelivered.all_done and jobs.get(job.job_id).recorded == 2
    assert jobs.record_repo(job.job_id, "repo-2").all_done, "the last repo still sees the job done"


def test_duplicates_may_push_the_count_ahead_but_never_decide_alone(tmp_path: Path) -> None:
    storage = LocalBackend(tmp_path)
    jobs = JobStore(storage)
    job = jobs.create("yungryce")
    jobs.set_total(job.job_id, 3)
    # two markers exist uncounted (their workers are still between marker and count), then a duplicate
    for name in ("repo-0", "repo-1"):
        storage.put(f"jobs/{job.job_id}/repos/{name}", b"{}", metadata={"outcome": "completed"}, create_only=True)
    assert not jobs.record_repo(job.job_id, "repo-0").all_done  # count raised to 2 by the listing
    jobs.update(job.job_id, lambda current: setattr(current, "recorded", 3))  # as if both late counts landed
    assert not jobs.record_repo(job.job_id, "repo-1").all_done, "the markers decide: 2 of 3"
    assert jobs.record_repo(job.job_id, "repo-2").all_done


def test_a_status_poll_reads_the_progress_from_the_job_alone(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    jobs = JobStore(storage)
    job = jobs.create("octocat")
    jobs.set_total(job.job_id, 5)
    jobs.record_repo(job.job_id, "a")
    for _ in range(2):  # a duplicate failure counts once
        jobs.record_repo(job.job_id, "b", outcome=RepoOutcome.FAILED, error="HTTP 500")
    jobs.record_repo(job.job_id, "c", outcome=RepoOutcome.FAILED, error="boom")
    jobs.record_repo(job.job_id, "c")  # replayed from the dead-letter queue: a success replaces it
    # a worker died between the failed marker of "d" and its job update; its redelivery records it
    storage.put(f"jobs/{job.job_id}/repos/d", b'{"error": "timeout"}', metadata={"outcome": "failed"},
                create_only=True)
    assert jobs.progress_of(jobs.get(job.job_id)) == Progress(5, 2, 1, {"b": "HTTP 500"}), "d not counted yet"
    jobs.record_repo(job.job_id, "d", outcome=RepoOutcome.FAILED, error="timeout")
    storage.listings = 0
    quick = jobs.progress_of(jobs.get(job.job_id))
    assert storage.listings == 0
    assert quick == jobs.progress(job.job_id) == Progress(5, 2, 2, {"b": "HTTP 500", "d": "timeout"})
    jobs.record_repo(job.job_id, "e")
    assert jobs.progress_of(jobs.get(job.job_id)) == jobs.progress(job.job_id) == Progress(
        5, 3, 2, {"b": "HTTP 500", "d": "timeout"})


def test_recording_a_repo_of_an_unknown_job_leaves_no_marker(tmp_path: Path) -> None:
    storage = LocalBackend(tmp_path)
    jobs = JobStore(storage)
    with pytest.raises(JobNotFound):
        jobs.record_repo("0" * 32, "repo-0")
    assert list(storage.list("jobs/")) == []


class DeletesFailAfter(LocalBackend):
    """A local backend whose deletes fail (storage outage) after ``allowed`` of them."""

    def __init__(self, root: Path, allowed: int) -> None:
        super().__init__(root)
        self.allowed = allowed

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        if self.allowed == 0:
            raise StorageUnavailable(f"cannot delete {key}: injected outage")
        self.allowed -= 1
        return super().delete(key, if_match=if_match)


def test_a_delete_cut_short_leaves_the_job_document_so_the_next_delete_finishes(tmp_path: Path) -> None:
    storage = DeletesFailAfter(tmp_path, allowed=1)
    jobs = JobStore(storage)
    job = jobs.create("octocat")
    jobs.set_total(job.job_id, 2)
    for name in ("a", "b"):
        jobs.record_repo(job.job_id, name)
    with pytest.raises(StorageUnavailable):
        jobs.delete(job.job_id)
    assert storage.exists(f"jobs/{job.job_id}/job.json"), "the document goes last"
    storage.allowed = 100
    jobs.delete(job.job_id)
    assert list(storage.list("jobs/")) == [] and not (tmp_path / "blobs" / "jobs").exists()
