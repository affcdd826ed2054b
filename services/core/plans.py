"""A job's refresh plan: the repo listing order and the stale repos to sync, written once.

The plan is stored create-only at ``jobs/<id>/plan.json``. A redelivered ``plan_refresh`` reads
the stored plan instead of listing again, so every delivery fans out the same messages, and the
merge uses the listing order the plan saw.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from services.core.keys import job_plan_key, tenant_metadata
from services.core.records import trim_repo
from services.core.staleness import StalePlan
from services.core.storage import AlreadyExists, BlobNotFound, StorageBackend


@dataclass
class StoredPlan:
    names: list[str]  # the whole listing, GitHub order
    stale: list[dict[str, Any]]  # trimmed repo objects to sync
    expected_fingerprint: str  # the bundle fingerprint once every repo is fresh

    @classmethod
    def from_stale_plan(cls, plan: StalePlan) -> StoredPlan:
        return cls(names=plan.names, stale=[trim_repo(r) for r in plan.stale],
                   expected_fingerprint=plan.bundle_fingerprint)


def load_plan(storage: StorageBackend, job_id: str) -> StoredPlan | None:
    try:
        return StoredPlan(**json.loads(storage.get(job_plan_key(job_id)).data))
    except BlobNotFound:
        return None


def save_plan(storage: StorageBackend, job_id: str, username: str, plan: StoredPlan) -> StoredPlan:
    """Store ``plan`` unless one exists; return whichever plan is stored."""
    body = json.dumps(asdict(plan), separators=(",", ":")).encode()
    try:
        storage.put(job_plan_key(job_id), body, metadata=tenant_metadata(username), create_only=True)
    except AlreadyExists:
        stored = load_plan(storage, job_id)
        if stored is not None:
            return stored
    return plan
