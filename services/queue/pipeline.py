"""The queue pipeline of one process: backends, a broker with the actors registered, submission.

:class:`Pipeline` registers the steps of ``services.sync``, ``services.merge`` and
``services.train`` as actors on the process's broker (no global broker, nothing registered at
import), implements the steps' :class:`~services.core.dispatch.Dispatcher` by sending messages,
and is what the router, the CLI and worker processes use to start refreshes. A send the broker
refuses raises :class:`BrokerUnavailable`; a job whose plan could not be sent is failed at once,
so nothing stays half-accepted. Refreshes are coalesced (:mod:`services.core.inflight`): a user
has at most one running job and one queued follow-up, and at most one training request per content
fingerprint is queued.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import CurrentMessage
from prometheus_client import CollectorRegistry

from services.core.backends import Backends, build_backends
from services.core.crashpoints import crash_point
from services.core.inflight import AFTER, Admission, InflightJobs
from services.core.jobs import Job
from services.core.keys import Namespace
from services.core.names import validate_username
from services.core.settings import Settings
from services.core.sources import RepoSource
from services.core.storage import StorageBackend
from services.merge.steps import MergeSteps
from services.queue.actors import register_actors
from services.queue.broker import BrokerBundle, BrokerUnavailable, build_broker
from services.queue.github_budget import make_budget
from services.queue.run_slots import RunSlots
from services.sync.steps import SyncSteps, queue_namespace
from services.train.steps import Trainer, TrainSteps
from services.train.store import ModelStore
from services.train.trainer import MIN_DOCUMENTED

log = logging.getLogger("cloudfolio.pipeline")


class Pipeline:
    """Actors registered on a broker, and the dispatcher the steps use.

    Parameters:
      backends(Backends): the process's storage, source and jobs.
      broker_bundle(BrokerBundle): the broker and its middleware.
      trainer(Trainer | None): how bundles are trained (default: from settings).
    """

    def __init__(self, backends: Backends, broker_bundle: BrokerBundle, *, trainer: Trainer | None = None) -> None:
        self.backends = backends
        self.broker_bundle = broker_bundle
        settings = backends.settings
        backends.observations.bind(broker_bundle.registry)
        self.models = ModelStore(backends.storage, settings.data_path / "model-cache", Namespace.LIVE,
                                 backends.observations)
        self.inflight = InflightJobs(backends.jobs)
        self.slots = run_slots_for(backends)
        self.actors = register_actors(broker_bundle.broker, settings, SyncSteps(backends, self),
                                      MergeSteps(backends, self), TrainSteps(backends, self.models, trainer),
                                      slots=self.slots)

    @property
    def broker(self) -> dramatiq.Broker:
        return self.broker_bundle.broker

    @property
    def registry(self) -> CollectorRegistry:
        return self.broker_bundle.registry

    @property
    def embedded(self) -> bool:
        return self.broker_bundle.embedded

    @property
    def queues(self) -> dict[str, str]:
        settings = self.backends.settings
        return {"plan": settings.plan_queue, "sync": settings.sync_queue, "merge": settings.merge_queue,
                "train": settings.training_queue}

    def send(self, message: dramatiq.Message) -> None:
        try:
            self.broker.enqueue(message)
        except BrokerConnectionError as exc:
            raise BrokerUnavailable(f"broker refused the message: {exc}") from exc

    # -- the steps' dispatcher ------------------------------------------------------------------
    def delivery_id(self) -> str | None:
        message = CurrentMessage.get_current_message()
        return message.message_id if message is not None else None

    def send_sync(self, job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        self.send(self.actors.sync_repo.message(job_id, username, repo, mode))

    def send_merge(self, job_id: str, username: str, mode: str) -> None:
        self.send(self.actors.merge_bundle.message(job_id, username, mode))

    def send_plan_later(self, job_id: str, username: str, force: bool, mode: str, delay_seconds: float) -> None:
        self.send(self.actors.plan_refresh.message_with_options(
            args=(job_id, username, force, mode), delay=int(delay_seconds * 1000)))

    def request_training(self, job_id: str, username: str, content_fingerprint: str, bundle_fingerprint: str,
                         documented: int) -> bool:
        if documented < MIN_DOCUMENTED:
            return False
        if self.models.exists(username, content_fingerprint):
            log.info("model for content %s exists; no training", content_fingerprint)
            return False
        if not self.models.reserve_training(username, content_fingerprint):
            log.info("training for content %s is already queued", content_fingerprint)
            return False
        self.send(self.actors.train_model.message_with_options(kwargs={
            "job_id": job_id, "username": username, "content_fingerprint": content_fingerprint,
            "bundle_fingerprint": bundle_fingerprint}))
        return True

    # -- the sweeper's recovery -------------------------------------------------------------------
    def resend_plan(self, job: Job) -> None:
        self.send(self.actors.plan_refresh.message(job.job_id, job.username, bool(job.force), job.mode))

    def resend_merge(self, job: Job) -> None:
        self.send_merge(job.job_id, job.username, job.mode)

    # -- submission -----------------------------------------------------------------------------
    def submit_refresh(self, username: str, *, force: bool = False, mode: Namespace | str = Namespace.LIVE,
                       extra: dict[str, object] | None = None) -> Job:
        """The job a refresh follows: the user's job in flight, or a new one whose ``plan_refresh``
        is sent. If the broker refuses, the new job is failed at once and :class:`BrokerUnavailable`
        raised: nothing stays half-accepted."""
        admission = self.admit_refresh(username, force=force, mode=mode, extra=extra)
        if admission.created:
            self.send_first_plan(admission.job)
        return admission.job

    def admit_refresh(self, username: str, *, force: bool = False, mode: Namespace | str = Namespace.LIVE,
                      extra: dict[str, object] | None = None) -> Admission:
        """Storage only: join the user's job in flight or create a new one (then call
        :meth:`send_first_plan`). Split from the send so the router runs each on its own threads."""
        username = validate_username(username)
        namespace = queue_namespace(Namespace(mode))
        jobs = self.backends.jobs

        def create(after: str | None) -> Job:
            job_extra = {**(extra or {}), **({AFTER: after} if after else {})}
            return jobs.create(username, mode=namespace, force=force, extra=job_extra)

        admission = self.inflight.admit(username, namespace, force, create, discard=lambda j: jobs.delete(j.job_id))
        if not admission.created:
            job = admission.job
            log.info("refresh joined job %s in flight", job.job_id, extra={"username": username, "job_id": job.job_id})
        return admission

    def send_first_plan(self, job: Job) -> None:
        """Send a new job's ``plan_refresh``; if the broker refuses, fail the job and re-raise."""
        crash_point("after_job_created")  # a router killed here leaves a pending job: the sweeper sends its plan
        try:
            self.send(self.actors.plan_refresh.message(job.job_id, job.username, bool(job.force), job.mode))
        except BrokerUnavailable:
            self.backends.jobs.fail(job.job_id, "broker unavailable: the refresh was not queued")
            raise

    def close(self) -> None:
        self.backends.close()
        self.broker.close()


def run_slots_for(backends: Backends) -> RunSlots:
    """``CLOUDFOLIO_WORKER_RUN_SLOTS`` slots when neither the source nor the storage waits on the network
    (their calls are local file work: :mod:`run_slots`), else no limit."""
    local = backends.source.inline_io and backends.storage.inline_io
    return RunSlots(backends.settings.worker_run_slots if local else 0)


def build_pipeline(settings: Settings, *, storage: StorageBackend | None = None, source: RepoSource | None = None,
                   registry: CollectorRegistry | None = None, trainer: Trainer | None = None) -> Pipeline:
    """The pipeline the settings describe; the keyword arguments replace configured parts (tests)."""
    budget = make_budget(settings) if source is None and settings.repo_source == "github" else None
    backends = build_backends(settings, storage=storage, source=source, budget=budget)
    return Pipeline(backends, build_broker(settings, registry), trainer=trainer)
