"""FinalFailure runs an actor's hook once Retries gives up; rate limits become delayed retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dramatiq
from dramatiq.brokers.stub import StubBroker

from services.core.sources import RateLimited, UserNotFound
from services.queue.actors import delay_rate_limits
from tests.services.queue.middleware.conftest import run_one


def declare(broker: StubBroker, fn: object, name: str, **options: object) -> dramatiq.Actor:
    return dramatiq.Actor(delay_rate_limits(fn), broker=broker, actor_name=name, queue_name="q", priority=0,
                          options=options)


def test_hook_runs_once_after_the_last_retry(stub: StubBroker) -> None:
    calls, hooks = [], []

    def always_fails(value: str) -> None:
        calls.append(value)
        raise RuntimeError("boom")

    actor = declare(stub, always_fails, "always_fails", max_retries=2,
                    on_final_failure=lambda error, value: hooks.append((error, value)))
    run_one(stub, actor, "x")
    assert len(calls) == 3 and hooks == [("RuntimeError: boom", "x")]
    assert len(stub.dead_letters) == 1


def test_permanent_errors_fail_at_once(stub: StubBroker) -> None:
    calls, hooks = [], []

    def missing_user(value: str) -> None:
        calls.append(value)
        raise UserNotFound("no such user")

    actor = declare(stub, missing_user, "missing_user", max_retries=3, throws=(UserNotFound,),
                    on_final_failure=lambda error, value: hooks.append(error))
    run_one(stub, actor, "x")
    assert len(calls) == 1 and hooks == ["UserNotFound: no such user"]


def test_a_retried_failure_runs_no_hook_and_a_hook_that_raises_changes_nothing(stub: StubBroker) -> None:
    calls, hooks = [], []

    def flaky(value: str) -> None:
        calls.append(value)
        if len(calls) == 1:
            raise RuntimeError("once")

    def broken_hook(error: str, value: str) -> None:
        hooks.append(error)
        raise OSError("storage down")

    actor = declare(stub, flaky, "flaky", max_retries=3, on_final_failure=broken_hook)
    run_one(stub, actor, "x")
    assert len(calls) == 2 and hooks == [] and stub.dead_letters == []

    def doomed(value: str) -> None:
        raise RuntimeError("always")

    run_one(stub, declare(stub, doomed, "doomed", max_retries=0, on_final_failure=broken_hook), "y")
    assert hooks == ["RuntimeError: always"] and len(stub.dead_letters) == 1


def test_rate_limits_become_delayed_retries(stub: StubBroker) -> None:
    calls = []

    def limited(value: str) -> None:
        calls.append(value)
        if len(calls) == 1:
            raise RateLimited(datetime.now(UTC) + timedelta(milliseconds=1), "secondary")

    actor = declare(stub, limited, "limited", max_retries=3, on_final_failure=lambda error, value: None)
    run_one(stub, actor, "x")
    assert len(calls) == 2 and stub.dead_letters == []
