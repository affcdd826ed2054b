"""The cache contract's key scheme: every storage key is built here, from validated names only.

See docs/CACHE-CONTRACT.md. Live data uses the legacy key names (``repos_bundle_context_{user}``,
``repo_level_bundle_{user}_{repo}``) so a deployment can read a legacy cache. The shadow run of the
queue path and the legacy replica write the same names under their own prefixes (``shadow/``,
``legacy/``), so neither can change what users of the other path are served.

Job ids are made here too (:func:`new_job_id`): they begin with their creation time, so a listing
of ``jobs/`` is in creation order.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from enum import StrEnum

from services.core.names import validate_repo_name, validate_username

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class Namespace(StrEnum):
    """Where a run writes: ``live`` (served to users), ``shadow`` (queue-path mirror), ``legacy``."""

    LIVE = "live"
    SHADOW = "shadow"
    LEGACY = "legacy"

    @property
    def prefix(self) -> str:
        return "" if self is Namespace.LIVE else f"{self.value}/"


def validate_job_id(job_id: object) -> str:
    """Job ids are 32 lowercase hex digits (:func:`new_job_id`; before it, a UUID4 without dashes)."""
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise ValueError("job id must be 32 lowercase hex digits")
    return job_id


def _fingerprint(value: str) -> str:
    if not _HEX32.fullmatch(value):
        raise ValueError("fingerprint must be 32 lowercase hex digits")
    return value


class CacheKeys:
    """Key builder for one namespace.

    Parameters:
      namespace(Namespace): live, shadow or legacy. Defaults to live.
    """

    def __init__(self, namespace: Namespace = Namespace.LIVE) -> None:
        self.namespace = Namespace(namespace)
        self._p = self.namespace.prefix

    def bundle(self, username: str) -> str:
        return f"{self._p}repos_bundle_context_{validate_username(username)}"

    def record(self, username: str, repo: str) -> str:
        return f"{self._p}repo_level_bundle_{validate_username(username)}_{validate_repo_name(repo)}"

    def bundle_verified(self, username: str) -> str:
        return f"{self._p}bundle_verified_{validate_username(username)}"

    def records_prefix(self, username: str) -> str:
        # "_" is not allowed in logins, so this prefix never matches another user's records
        return f"{self._p}repo_level_bundle_{validate_username(username)}_"

    def model_archive(self, username: str, content_fingerprint: str, token: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{1,32}", token):
            raise ValueError("archive token must be hex")
        user, fp = validate_username(username), _fingerprint(content_fingerprint)
        return f"{self._p}models/{user}/model_{fp}-{token}.zip"

    def model_failure(self, username: str, content_fingerprint: str) -> str:
        return f"{self._p}models/{validate_username(username)}/model_{_fingerprint(content_fingerprint)}.failed.json"

    def model_training(self, username: str, content_fingerprint: str) -> str:
        return f"{self._p}models/{validate_username(username)}/model_{_fingerprint(content_fingerprint)}.queued.json"

    def model_metadata(self, username: str, content_fingerprint: str) -> str:
        return f"{self._p}models/{validate_username(username)}/model_{_fingerprint(content_fingerprint)}.json"

    def model_embeddings(self, username: str, content_fingerprint: str) -> str:
        user = validate_username(username)
        return f"{self._p}models/{user}/embeddings_{_fingerprint(content_fingerprint)}.npy"

    def models_prefix(self, username: str) -> str:
        return f"{self._p}models/{validate_username(username)}/"


#: Every job's blobs live in a folder of its own under this prefix.
JOBS_PREFIX = "jobs/"


#: Ids made by :func:`new_job_id` carry this digit where a UUID4 carries its version digit, 4: an id
#: from before job ids carried their time is never read as having one.
_TIMED_ID_MARK = "7"


def is_job_id(value: object) -> bool:
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


def new_job_id(now: datetime) -> str:
    """A job id in UUIDv7's layout: 12 hex digits of ``now`` in milliseconds since the epoch, the
    digit 7, then 76 random bits. Ids in key order are then jobs in creation order (to the
    millisecond, by the clocks of the processes creating them), so the newest jobs are found from one
    listing without a read per job; 76 random bits keep an id as hard to guess as a status URL needs."""
    return f"{int(now.timestamp() * 1000):012x}{_TIMED_ID_MARK}{secrets.randbits(76):019x}"


def job_id_created_ms(job_id: str) -> int | None:
    """When a job was created, from its id, in milliseconds; None for an id without a time."""
    if not is_job_id(job_id) or job_id[12] != _TIMED_ID_MARK:
        return None
    return int(job_id[:12], 16)


def job_key(job_id: str) -> str:
    return f"jobs/{validate_job_id(job_id)}/job.json"


def job_repo_key(job_id: str, repo: str) -> str:
    return f"jobs/{validate_job_id(job_id)}/repos/{validate_repo_name(repo)}"


def job_repos_prefix(job_id: str) -> str:
    return f"jobs/{validate_job_id(job_id)}/repos/"


def job_merge_claim_key(job_id: str, claim: str = "0") -> str:
    if not re.fullmatch(r"0|replay-[A-Za-z0-9._-]{1,100}", claim):
        raise ValueError(f"invalid merge claim {claim!r}")
    return f"jobs/{validate_job_id(job_id)}/merge-claim-{claim}"


def job_plan_key(job_id: str) -> str:
    return f"jobs/{validate_job_id(job_id)}/plan.json"


def job_prefix(job_id: str) -> str:
    return f"jobs/{validate_job_id(job_id)}/"


def inflight_key(namespace: Namespace, username: str) -> str:
    """The register of a user's in-flight refresh jobs in one namespace (:mod:`services.core.inflight`)."""
    return f"inflight/{Namespace(namespace).value}/{validate_username(username)}.json"


def etag_cache_key(username: str, url_digest: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", url_digest):
        raise ValueError("url digest must be a sha256 hex digest")
    return f"github-etags/{validate_username(username)}/{url_digest}"


def tenant_metadata(username: str, **extra: str) -> dict[str, str]:
    """Blob metadata every blob carries: the tenant, plus anything the caller adds."""
    return {"username": validate_username(username), **extra}
