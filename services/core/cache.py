"""Reading and writing cached bundles and records in the legacy blob format.

A cached value is stored as ``{"data": <value>, "cached_at": "<ISO time>"}`` in compact JSON with
``fingerprint`` and ``username`` blob metadata, as the legacy cache manager wrote it, so either
system can read the other's blobs. Bundles are written as a stream of records (never joined in
memory) and read back either whole or one record at a time.

A bundle also carries ``data_sha256`` metadata, the SHA-256 of its records' bytes. A write whose
records are byte for byte the stored ones, under the same fingerprint, is abandoned before it is
published, so an unchanged bundle keeps its storage etag (and with it the ETag clients poll with)
and its ``last_modified``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.core.keys import CacheKeys, tenant_metadata
from services.core.storage import BlobNotFound, StorageBackend, StorageUnavailable

log = logging.getLogger("cloudfolio.cache")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _now_iso() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat()


class _Unchanged(Exception):
    """Raised from a bundle write's metadata callback: the write is abandoned, the stored bundle stays."""


@dataclass(frozen=True)
class CachedValue:
    """A cached bundle or record with the facts the API reports about it."""

    data: Any
    fingerprint: str | None
    last_modified: datetime
    size_bytes: int
    etag: str


@dataclass(frozen=True)
class Verified:
    """When a bundle was last checked against the source and found current, and its size in repos."""

    fingerprint: str
    at: datetime
    repos_count: int | None


class BundleCache:
    """Bundles and per-repo records of one namespace on a storage backend.

    Parameters:
      storage(StorageBackend): where blobs live.
      keys(CacheKeys): the namespace's key builder.
    """

    def __init__(self, storage: StorageBackend, keys: CacheKeys) -> None:
        self.storage = storage
        self.keys = keys

    # -- records -----------------------------------------------------------------------------
    def save_record(self, username: str, record: dict[str, Any]) -> None:
        key = self.keys.record(username, record["name"])
        body = _dumps({"data": record, "cached_at": _now_iso()})
        self.storage.put(key, body, metadata=tenant_metadata(username, fingerprint=record["fingerprint"]))

    def load_record(self, username: str, repo: str) -> CachedValue | None:
        return self._load(self.keys.record(username, repo))

    def record_fingerprints(self, username: str) -> dict[str, str]:
        """``{repo: fingerprint}`` of every stored record of a user, from blob metadata only."""
        prefix = self.keys.records_prefix(username)
        return {
            info.key[len(prefix):]: info.metadata.get("fingerprint", "")
            for info in self.storage.list(prefix)
        }

    # -- bundles -----------------------------------------------------------------------------
    def save_bundle_stream(
        self, username: str, records: Iterable[bytes], fingerprint: str | Callable[[], str], *,
        rewrite_unchanged: bool = False,
    ) -> bool:
        """Write a bundle from already-encoded records, one chunk per record; False when the stored
        bundle already holds exactly these records under the same fingerprint, and nothing was written
        (``rewrite_unchanged`` writes it anyway, as the legacy did on every run).

        ``fingerprint`` may be a callable, asked once every record has been written (a merge
        computes it while streaming). Whether the records changed is known only then too: the
        storage backend asks for the metadata after the last chunk and before it publishes the blob
        (``StorageBackend.put``), so an unchanged bundle is abandoned there.
        """
        key = self.keys.bundle(username)
        digest = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            yield b'{"data":['
            for index, encoded in enumerate(records):
                chunk = (b"," if index else b"") + encoded
                digest.update(chunk)
                yield chunk
            yield b'],"cached_at":' + _dumps(_now_iso()) + b"}"

        def metadata() -> dict[str, str]:
            value = fingerprint() if callable(fingerprint) else fingerprint
            written = tenant_metadata(username, fingerprint=value, data_sha256=digest.hexdigest())
            if not rewrite_unchanged and self._stored_metadata(key) == written:
                raise _Unchanged  # the records are the stored ones: keep the blob, its etag and its time
            return written

        try:
            self.storage.put(key, chunks(), metadata=metadata)
        except _Unchanged:
            return False
        return True

    def _stored_metadata(self, key: str) -> dict[str, str] | None:
        """The stored bundle's metadata, None when there is none or it cannot be read (then the write
        goes ahead, as it did before bundles were compared). On local storage this head may come from
        the head cache; a stale entry needs a replaced file with the old one's inode, size and times,
        which only writes racing this one can make, and either of them standing is then correct."""
        try:
            return dict(self.storage.head(key).metadata)
        except BlobNotFound:
            return None
        except StorageUnavailable as exc:
            log.debug("bundle %s not compared before its write: %s", key, exc)
            return None

    def save_bundle(self, username: str, records: list[dict[str, Any]], fingerprint: str) -> bool:
        return self.save_bundle_stream(username, (_dumps(r) for r in records), fingerprint)

    def load_bundle(self, username: str) -> CachedValue | None:
        return self._load(self.keys.bundle(username))

    def load_bundle_raw(self, username: str) -> tuple[bytes, CachedValue] | None:
        """The bundle's ``data`` array as the stored JSON bytes, without decoding it.

        Bundles are stored as ``{"data":[...],"cached_at":"..."}`` (ours and the legacy's), so the
        array is the bytes between the first ``:`` and the last ``,"cached_at":``. A blob of any
        other layout is decoded and re-encoded instead.
        """
        try:
            blob = self.storage.get(self.keys.bundle(username))
        except BlobNotFound:
            return None
        raw = blob.data
        tail = raw.rfind(b',"cached_at":')
        if raw.startswith(b'{"data":[') and tail > 0 and raw[tail - 1:tail] == b"]":
            data = raw[len(b'{"data":'):tail]
        else:
            decoded = json.loads(raw)
            if not isinstance(decoded, dict) or decoded.get("data") is None:
                return None
            data = _dumps(decoded["data"])
        info = CachedValue(data=None, fingerprint=blob.info.metadata.get("fingerprint") or None,
                           last_modified=blob.info.last_modified, size_bytes=blob.info.size, etag=blob.info.etag)
        return data, info

    def bundle_fingerprint(self, username: str) -> str | None:
        try:
            return self.storage.head(self.keys.bundle(username)).metadata.get("fingerprint") or None
        except BlobNotFound:
            return None

    def mark_verified(self, username: str, fingerprint: str, repos_count: int | None = None) -> None:
        """Record that the bundle was just checked against the source and found current."""
        body = _dumps({"fingerprint": fingerprint, "verified_at": datetime.now(UTC).isoformat(),
                       "repos_count": repos_count})
        self.storage.put(self.keys.bundle_verified(username), body, metadata=tenant_metadata(username))

    def verified(self, username: str) -> Verified | None:
        """The last verification of the bundle against the source, or None."""
        try:
            payload = json.loads(self.storage.get(self.keys.bundle_verified(username)).data)
        except BlobNotFound:
            return None
        return Verified(payload["fingerprint"], datetime.fromisoformat(payload["verified_at"]),
                        payload.get("repos_count"))

    def _load(self, key: str) -> CachedValue | None:
        try:
            blob = self.storage.get(key)
        except BlobNotFound:
            return None
        payload = json.loads(blob.data)
        data = payload.get("data") if isinstance(payload, dict) else None
        if data is None:
            return None
        return CachedValue(
            data=data,
            fingerprint=blob.info.metadata.get("fingerprint") or None,
            last_modified=blob.info.last_modified,
            size_bytes=blob.info.size,
            etag=blob.info.etag,
        )


def encode_record(record: dict[str, Any]) -> bytes:
    """A record in the compact form bundles are streamed in."""
    return _dumps(record)
