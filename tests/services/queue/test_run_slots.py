"""Run slots: at most N gated bodies at once, a slot given back on every way out, nested calls in the
caller's slot, and gating only where neither the source nor the storage waits on the network."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cloudfolio.devserver.waiting import wait_until
from services.core.settings import Settings
from services.queue.pipeline import build_pipeline, run_slots_for
from services.queue.run_slots import RunSlots
from tests.support.storages import NetworkLike


def test_no_more_than_the_slots_run_at_once_and_the_rest_wait_their_turn() -> None:
    slots, release, lock = RunSlots(2), threading.Event(), threading.Lock()
    state = {"arrived": 0, "inside": 0, "most": 0, "done": 0}

    def body() -> None:
        with lock:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        release.wait(30)
        with lock:
            state["inside"] -= 1
            state["done"] += 1

    gated = slots.gated(body)

    def caller() -> None:
        with lock:
            state["arrived"] += 1
        gated()

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(5)]
    for thread in threads:
        thread.start()
    wait_until(lambda: state["arrived"] == 5 and state["inside"] == 2, 10, lambda: f"state {state}")
    threading.Event().wait(0.1)  # a moment in which a broken gate would let the other three in
    assert state["inside"] == 2
    release.set()
    for thread in threads:
        thread.join(10)
    assert state == {"arrived": 5, "inside": 0, "most": 2, "done": 5}


def test_a_slot_is_given_back_when_the_body_raises_and_nested_calls_run_in_the_callers_slot() -> None:
    slots = RunSlots(1)

    @slots.gated
    def failing() -> None:
        raise ValueError("boom")

    for _ in range(3):  # with the slot kept after a raise, the second call would wait for ever
        with pytest.raises(ValueError):
            failing()

    @slots.gated
    def inner() -> str:
        return "inner ran"

    @slots.gated
    def outer() -> str:
        return inner()  # one slot, already ours: waiting for another would deadlock

    done: list[str] = []
    thread = threading.Thread(target=lambda: done.append(outer()), daemon=True)
    thread.start()
    thread.join(10)
    assert done == ["inner ran"]


def test_zero_slots_leave_the_function_as_it_is() -> None:
    def body() -> int:
        return 1

    assert RunSlots(0).gated(body) is body



def test_only_a_local_source_with_local_storage_is_gated(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), "CLOUDFOLIO_WORKER_RUN_SLOTS": "3"})
    local = build_pipeline(settings)
    remote = build_pipeline(settings, storage=NetworkLike(tmp_path / "remote"))
    github = build_pipeline(Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path), "CLOUDFOLIO_REPO_SOURCE": "github",
                                               "CLOUDFOLIO_WORKER_RUN_SLOTS": "3"}))
    try:
        assert local.slots.slots == 3 and run_slots_for(local.backends).slots == 3
        assert remote.slots.slots == 0, "Blob storage waits on the network"
        assert github.slots.slots == 0, "GitHub waits on the network"
    finally:
        for pipeline in (local, remote, github):
            pipeline.close()


def test_the_pipelines_plans_syncs_and_merges_run_in_its_slots(tmp_path: Path) -> None:
    pipeline = build_pipeline(Settings.from_env({"CLOUDFOLIO_DATA_DIR": str(tmp_path),
                                                 "CLOUDFOLIO_WORKER_RUN_SLOTS": "1"}))
    inside, release, finished = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        release.wait(30)

    try:
        threading.Thread(target=pipeline.slots.gated(hold), daemon=True).start()
        assert inside.wait(10)

        def merge_an_unknown_job() -> None:  # dropped at once, when it gets to run
            pipeline.actors.merge_bundle.fn("0" * 32, "octocat", "live")
            finished.set()

        threading.Thread(target=merge_an_unknown_job, daemon=True).start()
        assert not finished.wait(0.3), "the merge ran while the only slot was taken"
        release.set()
        assert finished.wait(10), "the merge did not run once the slot was free"
    finally:
        release.set()
        pipeline.close()
