"""A training task for single-task mode: ``{"username": ..., "namespace": "live"}``, validated.

:func:`parse_train_task` refuses anything else with :class:`InvalidTask` (exit 2 on the CLI, and a
queued message is dead-lettered); :func:`run_train_task` trains the user's current bundle of that
namespace and raises :class:`NoBundle` when there is none to train.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.core.backends import Backends
from services.core.errors import InvalidInput, NotFound
from services.core.keys import Namespace
from services.core.names import validate_username
from services.train.store import ModelStore
from services.train.trainer import TrainOutcome, params_from_settings, train_bundle


class InvalidTask(InvalidInput):
    """A task that can never succeed as given (malformed JSON, a bad username or namespace)."""


class NoBundle(NotFound):
    """The task's user has no bundle in that namespace yet: refresh first."""


@dataclass(frozen=True)
class TrainTask:
    username: str
    namespace: Namespace = Namespace.LIVE


def parse_train_task(raw: str) -> TrainTask:
    try:
        task = json.loads(raw)
        if not isinstance(task, dict):
            raise ValueError("the task must be a JSON object")
        return TrainTask(validate_username(task["username"]), Namespace(task.get("namespace", "live")))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidTask(f"invalid task: {exc}") from None


def run_train_task(backends: Backends, task: TrainTask) -> TrainOutcome:
    cached = backends.cache(task.namespace).load_bundle(task.username)
    if cached is None:
        raise NoBundle(f"no {task.namespace.value} bundle for {task.username}: refresh it first")
    store = ModelStore(backends.storage, backends.settings.data_path / "model-cache", task.namespace)
    return train_bundle(store, task.username, cached.data, params_from_settings(backends.settings))
