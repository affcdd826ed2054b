"""Group commit: concurrent changes of one document share one write, and every member sees it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_until
from services.core.group_commit import GroupCommit
from services.core.jobs import JobStore
from tests.services.core.test_jobs import CountingStorage


class Document:
    """A counter document whose writes can be held, so that changes queue up behind one."""

    def __init__(self) -> None:
        self.value = 0
        self.writes = 0
        self.calls = 0
        self.hold = threading.Event()
        self.hold.set()
        self.fail_with: Exception | None = None

    def apply(self, key: str, change) -> dict[str, int]:  # type: ignore[no-untyped-def]
        self.calls += 1
        self.hold.wait(10)
        if self.fail_with is not None:
            raise self.fail_with
        doc = {"value": self.value}
        if change(doc) is not False:
            self.value = doc["value"]
            self.writes += 1
        return doc


def add(amount: int):  # type: ignore[no-untyped-def]
    def change(doc: dict[str, int]) -> None:
        doc["value"] += amount

    return change


def _queue_behind_a_held_write(document: Document, group: GroupCommit, changes: list) -> list:  # type: ignore[type-arg]
    """Start one change whose write is held, then the others, and release once they all wait."""
    document.hold.clear()
    pool = ThreadPoolExecutor(len(changes))
    calls = document.calls
    first = pool.submit(group.update, "doc", changes[0])
    wait_until(lambda: document.calls == calls + 1, 10, lambda: "the first write never started")
    rest = [pool.submit(group.update, "doc", change) for change in changes[1:]]
    wait_until(lambda: len(group._open.get("doc", _Empty).changes) == len(changes) - 1, 10,
               lambda: "the other changes never joined one batch")
    document.hold.set()
    pool.shutdown(wait=True)
    return [first, *rest]


class _Empty:
    changes: list = []  # type: ignore[type-arg]


def test_changes_waiting_behind_a_write_are_written_together() -> None:
    document = Document()
    group: GroupCommit[dict[str, int]] = GroupCommit(document.apply)
    futures = _queue_behind_a_held_write(document, group, [add(1) for _ in range(20)])
    assert document.value == 20, "every change applied once"
    assert document.writes == 2, "the held write, then one write for the 19 that waited"
    assert futures[0].result() == {"value": 1}
    assert all(f.result() == {"value": 20} for f in futures[1:]), "every member sees the batch as written"


def test_a_failed_write_raises_in_every_member_and_the_next_batch_starts_afresh() -> None:
    document = Document()
    group: GroupCommit[dict[str, int]] = GroupCommit(document.apply)
    document.fail_with = OSError("storage down")
    futures = _queue_behind_a_held_write(document, group, [add(1) for _ in range(5)])
    for future in futures:
        with pytest.raises(OSError, match="storage down"):
            future.result()
    document.fail_with = None
    assert group.update("doc", add(3)) == {"value": 3}, "nothing of the failed batches was kept or replayed"


def test_a_batch_of_changes_with_nothing_to_write_writes_nothing() -> None:
    document = Document()
    group: GroupCommit[dict[str, int]] = GroupCommit(document.apply)
    _queue_behind_a_held_write(document, group, [lambda doc: False for _ in range(4)])
    assert document.writes == 0
    _queue_behind_a_held_write(document, group, [lambda doc: False, add(2), lambda doc: False])
    assert (document.value, document.writes) == (2, 1), "one change that writes makes the batch write"


def test_documents_of_other_keys_are_not_batched_together() -> None:
    document = Document()
    group: GroupCommit[dict[str, int]] = GroupCommit(document.apply)
    assert group.update("a", add(1)) == {"value": 1}
    assert group.update("b", add(1)) == {"value": 2}
    assert document.writes == 2


def test_thirty_two_threads_counting_one_jobs_repos_count_each_once_in_fewer_writes(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    jobs = JobStore(storage)
    job = jobs.create("yungryce")
    jobs.set_total(job.job_id, 320)
    storage.reads.clear()
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda i: jobs.record_repo(job.job_id, f"repo-{i}"), range(320)))
    assert jobs.get(job.job_id).recorded == 320
    assert jobs.progress(job.job_id).completed == 320
    assert any(r.all_done for r in results), "some caller saw the last repo done"
    job_reads = storage.reads[f"jobs/{job.job_id}/job.json"]
    assert job_reads < 320, f"{job_reads} job reads for 320 repos: the updates were not batched"
