"""The ``train_model`` actor on the ``training`` queue: one retry, then the dead-letter queue.

It trains for the user's *current* live bundle (the message's fingerprint may be stale when a newer
merge happened meanwhile); a fingerprint that already has a model returns at once. A failed
training never touches the bundle or the job (the merge already completed the job); the failure
is recorded next to the model (``model_{fp}.failed.json``) and counted in the worker's metrics.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import dramatiq

from services.core.attempts import on_final_failure
from services.core.keys import Namespace
from services.train.requests import TRAIN_ACTOR_NAME
from services.train.trainer import params_from_settings, train_bundle

if TYPE_CHECKING:
    from services.pipeline import Pipeline

log = logging.getLogger("cloudfolio.train")

TRAIN_MAX_RETRIES = 1
#: Below RabbitMQ's 30-minute consumer timeout.
TRAIN_TIME_LIMIT_MS = 25 * 60 * 1000


def register(pipeline: Pipeline) -> dramatiq.Actor:
    runtime = pipeline.runtime

    def training_failed(error: str, job_id: str, username: str, content_fingerprint: str,
                        bundle_fingerprint: str) -> None:
        log.error("training for %s failed for good: %s", content_fingerprint, error, extra={"username": username})

    @on_final_failure(TRAIN_MAX_RETRIES, (), training_failed)
    def train_model(job_id: str, username: str, content_fingerprint: str, bundle_fingerprint: str) -> str:
        cached = runtime.cache(Namespace.LIVE).load_bundle(username)
        if cached is None or not isinstance(cached.data, list):
            log.warning("no live bundle for %s; nothing to train", username)
            return "skipped: no bundle"
        outcome = train_bundle(pipeline.models, username, cached.data, params_from_settings(runtime.settings))
        return outcome.status

    return dramatiq.Actor(
        train_model, broker=runtime.broker, actor_name=TRAIN_ACTOR_NAME, queue_name=runtime.settings.training_queue,
        priority=0, options={"max_retries": TRAIN_MAX_RETRIES, "time_limit": TRAIN_TIME_LIMIT_MS},
    )
