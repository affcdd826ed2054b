"""The training step: train the model for a user's current live bundle.

A plain function over the domain; the queue machinery registers it as the ``train_model`` actor
on the ``training`` queue. It trains for the user's *current* live bundle (the message's
fingerprint may be stale when a newer merge happened meanwhile); a fingerprint that already has a
model returns at once. The message's training reservation is released when it succeeds or fails
for good (not between retries, which are still the one queued request), so a failed training can
be requested again by the next refresh. A failed training never touches the bundle or the job (the merge already
completed the job); the failure is recorded next to the model (``model_{fp}.failed.json``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from services.core.backends import Backends
from services.core.jobs import JobNotFound
from services.core.keys import Namespace
from services.train.store import ModelStore
from services.train.trainer import TrainOutcome, params_from_settings, train_bundle

log = logging.getLogger("cloudfolio.train")

#: ``(store, username, records) -> outcome``: how a bundle is trained (tests pass a failing one).
Trainer = Callable[[ModelStore, str, Sequence[dict[str, Any]]], TrainOutcome]


def settings_trainer(backends: Backends) -> Trainer:
    """The trainer the settings describe (hyper-parameters, device, base model)."""
    params = params_from_settings(backends.settings)
    return lambda store, username, records: train_bundle(store, username, records, params)


class TrainSteps:
    """Training of live bundles.

    Parameters:
      backends(Backends): storage and settings.
      models(ModelStore): where models are saved.
      trainer(Trainer | None): defaults to :func:`settings_trainer`.
    """

    def __init__(self, backends: Backends, models: ModelStore, trainer: Trainer | None = None) -> None:
        self.backends = backends
        self.models = models
        self.trainer = trainer or settings_trainer(backends)

    def train_model(self, job_id: str, username: str, content_fingerprint: str, bundle_fingerprint: str) -> None:
        # returns nothing: a value would be discarded (no Results backend is configured) with a warning
        cached = self.backends.cache(Namespace.LIVE).load_bundle(username)
        if cached is None or not isinstance(cached.data, list):
            log.warning("no live bundle for %s; nothing to train", username)
            self.models.release_training(username, content_fingerprint)
            return
        if self._over_quota(job_id, username):
            self.models.release_training(username, content_fingerprint)
            return
        started = time.monotonic()
        try:
            outcome = self.trainer(self.models, username, cached.data)
        except Exception:
            self.backends.observations.training("failed", time.monotonic() - started)
            raise
        self.backends.observations.training(str(outcome.status), time.monotonic() - started)
        self.models.release_training(username, content_fingerprint)
        log.info("training for %s: %s", outcome.fingerprint, outcome.status, extra={"username": username})

    def _over_quota(self, job_id: str, username: str) -> bool:
        """True when the trainings quota refuses this one (the reason is recorded on the job); else count it."""
        usage, quotas = self.backends.usage, self.backends.quotas
        refused = quotas.judge(quotas.check_training(usage.get(username), usage.clock()), "training",
                               self.backends.observations)
        if refused is None:
            usage.count_training(username)
            return False
        with contextlib.suppress(JobNotFound):  # an expired job has nobody left to tell
            self.backends.jobs.update(job_id, lambda job: job.extra.__setitem__("training_skipped", str(refused)))
        return True

    def training_failed(self, error: str, job_id: str, username: str, content_fingerprint: str,
                        bundle_fingerprint: str) -> None:
        log.error("training for %s failed for good: %s", content_fingerprint, error, extra={"username": username})
        self.models.release_training(username, content_fingerprint)
