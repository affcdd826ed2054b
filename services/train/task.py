"""The ``train`` task of single-task mode: fine-tune the model of a user's current bundle.

The envelope is validated by :func:`services.core.tasks.parse_envelope`; :func:`run_train_task`
trains the user's current bundle of the task's namespace (or finds the model cached) and raises
:class:`NoBundle` when there is no bundle to train.
"""

from __future__ import annotations

from services.core.backends import Backends
from services.core.errors import NotFound
from services.core.tasks import TaskEnvelope
from services.train.store import ModelStore
from services.train.trainer import TrainOutcome, params_from_settings, train_bundle


class NoBundle(NotFound):
    """The task's user has no bundle in that namespace yet: refresh first."""


def run_train_task(backends: Backends, task: TaskEnvelope) -> TrainOutcome:
    cached = backends.cache(task.namespace).load_bundle(task.username)
    if cached is None:
        raise NoBundle(f"no {task.namespace.value} bundle for {task.username}: refresh it first")
    store = ModelStore(backends.storage, backends.settings.data_path / "model-cache", task.namespace)
    return train_bundle(store, task.username, cached.data, params_from_settings(backends.settings))
