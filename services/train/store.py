"""Trained models on the storage backend, keyed per user by the legacy content fingerprint.

A model is one archive blob (the saved SentenceTransformer folder, zipped) plus a metadata blob.
The metadata blob is the commit point: each trainer uploads its archive under a unique key, then
creates ``model_{fp}.json`` create-only; the trainer that loses that race deletes its own archive.
So two workers training the same fingerprint at once end with exactly one valid model, and a
reader never finds metadata pointing at a half-written archive. A failed training writes
``model_{fp}.failed.json`` (visible, never mistaken for a model; the base model is never saved
as if it were trained). ``model_{fp}.queued.json`` is the one queued training request of a
fingerprint: created create-only by the request, deleted when the training ends either way, and
taken over once it is older than :data:`RESERVATION_SECONDS` (its worker died).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.core.keys import CacheKeys, Namespace, tenant_metadata
from services.core.observations import Observations
from services.core.storage import AlreadyExists, BlobNotFound, PreconditionFailed, StorageBackend

#: Files kept uncompressed in a model archive (float weights; everything else is deflated).
WEIGHT_SUFFIXES = frozenset({".safetensors", ".bin", ".pt"})
#: How long a queued training request holds its fingerprint: longer than a training's time limit
#: (25 min) and its one retry.
RESERVATION_SECONDS = 3600


class ModelStore:
    """Models of one namespace.

    Parameters:
      storage(StorageBackend): where archives and metadata live.
      cache_dir(Path): local folder where downloaded models are unpacked for loading.
      namespace(Namespace): live (queue path) or legacy.
      observations(Observations | None): where local-cache hits and downloads are reported.
    """

    def __init__(self, storage: StorageBackend, cache_dir: Path, namespace: Namespace = Namespace.LIVE,
                 observations: Observations | None = None) -> None:
        self.storage = storage
        self.observations = observations if observations is not None else Observations()
        self.keys = CacheKeys(namespace)
        self.cache_dir = Path(cache_dir) / namespace.value

    def metadata(self, username: str, fingerprint: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.storage.get(self.keys.model_metadata(username, fingerprint)).data)
        except BlobNotFound:
            return None

    def exists(self, username: str, fingerprint: str) -> bool:
        return self.storage.exists(self.keys.model_metadata(username, fingerprint))

    def failure(self, username: str, fingerprint: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.storage.get(self.keys.model_failure(username, fingerprint)).data)
        except BlobNotFound:
            return None

    def reserve_training(self, username: str, fingerprint: str, now: datetime | None = None) -> bool:
        """True for the one caller that may queue training of ``fingerprint`` (until released or stale)."""
        now = now or datetime.now(UTC)
        key = self.keys.model_training(username, fingerprint)
        body = json.dumps({"at": now.isoformat()}).encode()
        try:
            self.storage.put(key, body, metadata=tenant_metadata(username, fingerprint=fingerprint), create_only=True)
            return True
        except AlreadyExists:
            pass
        try:
            blob = self.storage.get(key)
            at = datetime.fromisoformat(json.loads(blob.data)["at"])
        except BlobNotFound:
            return self.reserve_training(username, fingerprint, now)  # released meanwhile
        except (KeyError, ValueError):
            at = datetime.min.replace(tzinfo=UTC)  # unreadable: treat as stale
        if (now - at).total_seconds() < RESERVATION_SECONDS:
            return False
        try:
            self.storage.put(key, body, metadata=tenant_metadata(username, fingerprint=fingerprint),
                             if_match=blob.info.etag)
        except (PreconditionFailed, BlobNotFound):
            return False  # another caller took the stale reservation
        return True

    def release_training(self, username: str, fingerprint: str) -> None:
        self.storage.delete(self.keys.model_training(username, fingerprint))

    def save(self, username: str, fingerprint: str, model: Any, metadata: dict[str, Any]) -> bool:
        """Upload ``model`` and commit its metadata; False when another trainer committed first."""
        archive_key = self.keys.model_archive(username, fingerprint, uuid.uuid4().hex[:12])
        with tempfile.TemporaryDirectory(prefix="cf-model-") as folder:
            model.save(folder)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(Path(folder).rglob("*")):
                    if path.is_file():
                        # weights barely deflate (9 %) and deflating them cost 3.4 s of a 50 s task
                        stored = path.suffix in WEIGHT_SUFFIXES
                        archive.write(path, path.relative_to(folder).as_posix(),
                                      compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        self.storage.put(archive_key, buffer.getvalue(), content_type="application/zip",
                         metadata=tenant_metadata(username, fingerprint=fingerprint), create_only=True)
        document = {**metadata, "archive_key": archive_key, "archive_bytes": buffer.getbuffer().nbytes}
        try:
            self.storage.put(self.keys.model_metadata(username, fingerprint), json.dumps(document).encode(),
                             metadata=tenant_metadata(username, fingerprint=fingerprint), create_only=True)
        except AlreadyExists:
            self.storage.delete(archive_key)
            return False
        self.storage.delete(self.keys.model_failure(username, fingerprint))
        return True

    def record_failure(self, username: str, fingerprint: str, error: str, details: dict[str, Any]) -> None:
        document = {"status": "failed", "fingerprint": fingerprint, "error": error[:2000],
                    "at": datetime.now(UTC).isoformat(), **details}
        self.storage.put(self.keys.model_failure(username, fingerprint), json.dumps(document).encode(),
                         metadata=tenant_metadata(username, fingerprint=fingerprint))

    def local_path(self, username: str, fingerprint: str) -> Path:
        """The model unpacked in the local cache (downloaded on first use)."""
        target = self.cache_dir / username / fingerprint
        if (target / "modules.json").exists():
            self.observations.cache("model", True, username)
            return target
        self.observations.cache("model", False, username)
        metadata = self.metadata(username, fingerprint)
        if metadata is None:
            raise BlobNotFound(self.keys.model_metadata(username, fingerprint))
        data = self.storage.get(metadata["archive_key"]).data
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self._ensure(target.parent)))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():  # refuse paths leaving the folder (zip slip)
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"unsafe path in model archive: {member!r}")
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:  # another process unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
        return target

    @staticmethod
    def _ensure(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
