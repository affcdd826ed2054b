"""Permanent-failure hooks and rate-limit retries of actors, through a real StubBroker worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Retries

from services.core.attempts import on_final_failure
from services.core.sources import RateLimited, UserNotFound


@pytest.fixture
def stub() -> StubBroker:
    broker = StubBroker(middleware=[Retries(min_backoff=10, max_backoff=20), CurrentMessage()])
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def run(broker: StubBroker, actor: dramatiq.Actor, *args: object) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    actor.send(*args)
    broker.join(actor.queue_name, fail_fast=False)
    worker.join()
    worker.stop()


def test_hook_runs_once_after_the_last_retry(stub: StubBroker) -> None:
    calls, hooks = [], []

    @on_final_failure(2, (), lambda error, value: hooks.append((error, value)))
    def always_fails(value: str) -> None:
        calls.append(value)
        raise RuntimeError("boom")

    actor = dramatiq.Actor(always_fails, broker=stub, actor_name="always_fails", queue_name="q", priority=0,
                           options={"max_retries": 2})
    run(stub, actor, "x")
    assert len(calls) == 3 and hooks == [("RuntimeError: boom", "x")]
    assert len(stub.dead_letters) == 1


def test_permanent_errors_fail_at_once(stub: StubBroker) -> None:
    calls, hooks = [], []

    @on_final_failure(3, (UserNotFound,), lambda error, value: hooks.append(error))
    def missing_user(value: str) -> None:
        calls.append(value)
        raise UserNotFound("no such user")

    actor = dramatiq.Actor(missing_user, broker=stub, actor_name="missing_user", queue_name="q", priority=0,
                           options={"max_retries": 3, "throws": (UserNotFound,)})
    run(stub, actor, "x")
    assert len(calls) == 1 and hooks == ["UserNotFound: no such user"]


def test_rate_limits_become_delayed_retries(stub: StubBroker) -> None:
    calls = []

    @on_final_failure(3, (), lambda error, value: None)
    def limited(value: str) -> None:
        calls.append(value)
        if len(calls) == 1:
            raise RateLimited(datetime.now(UTC) + timedelta(milliseconds=1), "secondary")

    actor = dramatiq.Actor(limited, broker=stub, actor_name="limited", queue_name="q", priority=0,
                           options={"max_retries": 3})
    run(stub, actor, "x")
    assert len(calls) == 2 and stub.dead_letters == []
