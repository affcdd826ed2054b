"""The two serving paths a user's requests can take, named once for every layer.

``queue`` is the new path (queue workers), ``legacy`` the legacy orchestrator. Jobs record the
path that serves them (``job.extra["path"]``), metrics carry it as the ``path`` label, and the
rollout evidence compares the two.
"""

from __future__ import annotations

from enum import StrEnum


class ServingPath(StrEnum):
    QUEUE = "queue"
    LEGACY = "legacy"

    @property
    def other(self) -> ServingPath:
        return ServingPath.LEGACY if self is ServingPath.QUEUE else ServingPath.QUEUE
