"""The queue pipeline of one process: runtime, registered actors, and how work is submitted.

``Pipeline`` registers the actors on the process's broker (no global broker, nothing registered
at import) and is what the router, the CLI and worker processes use to start refreshes.
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.errors import BrokerConnectionError

from services.core.errors import CloudfolioError
from services.core.jobs import Job
from services.core.keys import Namespace
from services.core.names import validate_username
from services.core.runtime import Runtime
from services.merge import actors as merge_actors
from services.sync import actors as sync_actors
from services.train import actors as train_actors
from services.train.requests import training_message
from services.train.store import ModelStore

log = logging.getLogger("cloudfolio.pipeline")


class BrokerUnavailable(CloudfolioError):
    """The broker refused or lost a message we tried to send; nothing was accepted."""


class Pipeline:
    """Actors registered on ``runtime``'s broker.

    Parameters:
      runtime(Runtime): the process's shared objects.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.models = ModelStore(runtime.storage, runtime.settings.data_path / "model-cache", Namespace.LIVE)
        self.sync = sync_actors.register(self)
        self.merge = merge_actors.register(self)
        self.train = train_actors.register(self)

    @property
    def queues(self) -> dict[str, str]:
        settings = self.runtime.settings
        return {"sync": settings.sync_queue, "merge": settings.merge_queue, "train": settings.training_queue}

    def send(self, message: dramatiq.Message) -> None:
        try:
            self.runtime.broker.enqueue(message)
        except BrokerConnectionError as exc:
            raise BrokerUnavailable(f"broker refused the message: {exc}") from exc

    def send_merge(self, job_id: str, username: str, mode: str) -> None:
        self.send(self.merge.message(job_id, username, mode))

    def request_training(self, job_id: str, username: str, content_fingerprint: str, bundle_fingerprint: str) -> bool:
        if self.models.exists(username, content_fingerprint):
            log.info("model for content %s exists; no training", content_fingerprint)
            return False
        self.send(training_message(self.runtime.settings.training_queue, job_id=job_id, username=username,
                                   content_fingerprint=content_fingerprint, bundle_fingerprint=bundle_fingerprint))
        return True

    def submit_refresh(self, username: str, *, force: bool = False, mode: Namespace | str = Namespace.LIVE,
                       extra: dict[str, object] | None = None) -> Job:
        """Create a job and send its ``plan_refresh``. If the broker refuses, the job is failed at once
        and :class:`BrokerUnavailable` raised: nothing stays half-accepted."""
        username = validate_username(username)
        namespace = sync_actors.namespace_of(Namespace(mode))
        job = self.runtime.jobs.create(username, mode=namespace, force=force, extra=extra)
        try:
            self.send(self.sync.plan_refresh.message(job.job_id, username, bool(force), namespace.value))
        except BrokerUnavailable:
            self.runtime.jobs.fail(job.job_id, "broker unavailable: the refresh was not queued")
            raise
        return job
