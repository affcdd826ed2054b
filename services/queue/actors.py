"""Actor registration: the pipeline's steps declared as Dramatiq actors on one broker.

Each actor is declared here once, with everything Dramatiq needs to know about it: its queue,
``max_retries`` (stated once, read by ``Retries``), ``time_limit`` (below RabbitMQ's 30-minute
consumer timeout), ``throws`` (errors no retry fixes) and ``on_final_failure`` (the step's hook,
called by :class:`~services.queue.middleware.final_failure.FinalFailure`). Nothing is registered
at import: :func:`register_actors` declares the actors on the broker it is given.

A GitHub rate limit or an exhausted shared budget (:class:`~services.core.sources.RateLimited`)
becomes a delayed retry at the time GitHub names (capped: a delayed message sits unacked in the delay
queue, and RabbitMQ's consumer timeout is 30 minutes); such waits do not count as failures against
``max_retries`` (``retry_rule``: up to ``RATE_LIMIT_RETRIES`` of them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Retry

from services.core.settings import Settings
from services.core.sources import RateLimited
from services.merge.steps import MergeSteps
from services.queue.run_slots import RunSlots
from services.sync.steps import PERMANENT_ERRORS, SyncSteps
from services.train.steps import TrainSteps

#: Retries of a failed plan, sync or merge before the step's failure hook runs and it is dead-lettered.
SYNC_MAX_RETRIES = 3
MERGE_MAX_RETRIES = 3
#: One retry for training: a second identical failure will not be fixed by a third.
TRAIN_MAX_RETRIES = 1
#: Time limits in milliseconds, below RabbitMQ's 30-minute consumer timeout.
PLAN_TIME_LIMIT_MS = 10 * 60 * 1000
SYNC_TIME_LIMIT_MS = 5 * 60 * 1000
MERGE_TIME_LIMIT_MS = 10 * 60 * 1000
TRAIN_TIME_LIMIT_MS = 25 * 60 * 1000
#: Longest delay we ask for when GitHub says to wait.
MAX_RATE_LIMIT_DELAY_MS = 15 * 60 * 1000
#: Waits for GitHub's limits a message may take on top of its retries (a wait is not a failure; 20
#: waits of up to 15 minutes outlast GitHub's hourly window).
RATE_LIMIT_RETRIES = 20

TRAIN_ACTOR_NAME = "train_model"
#: Dramatiq priority of sync messages; plans and merges have 0 (lower runs sooner).
SYNC_PRIORITY = 10


@dataclass
class Actors:
    plan_refresh: dramatiq.Actor
    sync_repo: dramatiq.Actor
    merge_bundle: dramatiq.Actor
    train_model: dramatiq.Actor


class RateLimitRetry(Retry):
    """A wait for GitHub's limits or the shared budget: not a failure, so it does not use up ``max_retries``."""


def delay_rate_limits(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn :class:`RateLimited` into :class:`RateLimitRetry` with the delay GitHub (or the budget) asked for."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RateLimited as exc:
            delay = int(min(exc.retry_after_seconds * 1000 + 1000, MAX_RATE_LIMIT_DELAY_MS))
            raise RateLimitRetry(str(exc), delay=delay) from exc

    return wrapper


def retry_rule(max_retries: int) -> Callable[[int, BaseException], bool]:
    """``Retries``' ``retry_when``: ``max_retries`` failures, plus up to :data:`RATE_LIMIT_RETRIES` waits."""

    def retry_when(retries: int, exception: BaseException) -> bool:
        if isinstance(exception, RateLimitRetry):
            return retries < max_retries + RATE_LIMIT_RETRIES
        return retries < max_retries

    return retry_when


def _declare(broker: dramatiq.Broker, fn: Callable[..., Any], name: str, queue: str, *, max_retries: int,
             time_limit: int, on_final_failure: Callable[..., None], throws: tuple[type[BaseException], ...] = (),
             priority: int = 0, slots: RunSlots | None = None) -> dramatiq.Actor:
    options: dict[str, Any] = {"max_retries": max_retries, "retry_when": retry_rule(max_retries),
                               "time_limit": time_limit, "on_final_failure": on_final_failure}
    if throws:
        options["throws"] = throws
    body = slots.gated(fn) if slots is not None else fn
    return dramatiq.Actor(delay_rate_limits(body), broker=broker, actor_name=name, queue_name=queue, priority=priority,
                          options=options)


def register_actors(broker: dramatiq.Broker, settings: Settings, sync: SyncSteps, merge: MergeSteps,
                    train: TrainSteps, slots: RunSlots | None = None) -> Actors:
    """Declare the four actors on ``broker`` with the queues the settings name; plans, syncs and merges
    run in ``slots`` (:mod:`run_slots`) when given. Training is not gated: it runs for minutes."""
    return Actors(
        # plans and merges go before syncs a worker holds (Dramatiq: lower is sooner); plans have their
        # own queue, so RabbitMQ never queues a new job's plan behind another job's syncs
        plan_refresh=_declare(broker, sync.plan_refresh, "plan_refresh", settings.plan_queue,
                              max_retries=SYNC_MAX_RETRIES, time_limit=PLAN_TIME_LIMIT_MS,
                              on_final_failure=sync.plan_failed, throws=PERMANENT_ERRORS, slots=slots),
        sync_repo=_declare(broker, sync.sync_repo, "sync_repo", settings.sync_queue,
                           max_retries=SYNC_MAX_RETRIES, time_limit=SYNC_TIME_LIMIT_MS,
                           on_final_failure=sync.sync_failed, throws=PERMANENT_ERRORS, priority=SYNC_PRIORITY,
                           slots=slots),
        merge_bundle=_declare(broker, merge.merge_job, "merge_bundle", settings.merge_queue,
                              max_retries=MERGE_MAX_RETRIES, time_limit=MERGE_TIME_LIMIT_MS,
                              on_final_failure=merge.merge_failed, slots=slots),
        train_model=_declare(broker, train.train_model, TRAIN_ACTOR_NAME, settings.training_queue,
                             max_retries=TRAIN_MAX_RETRIES, time_limit=TRAIN_TIME_LIMIT_MS,
                             on_final_failure=train.training_failed),
    )
