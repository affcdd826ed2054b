"""Local-folder storage backend: the embedded default, safe with several processes.

Layout under the root folder: ``blobs/<key>`` holds each blob, ``tmp/`` holds writes in progress,
``locks/`` holds the lock stripes for conditional writes. A blob file is the body bytes followed by
a trailer (JSON with etag, metadata and content type, then its length and a magic tag), so content
and metadata change together in one atomic ``rename``, and metadata computed while streaming the
body (a bundle's fingerprint) is written after it.

- Every write goes to a temp file first, then ``os.replace`` (readers never see a partial blob).
- ``create_only`` uses ``os.link(temp, final)``, which fails if the final name exists: exclusive
  like ``O_EXCL``, and the blob is complete the moment it becomes visible.
- ``if_match`` writes and deletes hold an ``flock`` stripe while they compare etags and rename.
- Etags are random per write, so two writes of equal bytes still differ (as Azure's do).
Durability on power loss is not attempted (no fsync); a crash leaves old or new content, plus at
worst a stray file in ``tmp/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from services.core.storage.base import (
    AlreadyExists,
    BlobInfo,
    BlobNotFound,
    Metadata,
    PreconditionFailed,
    StorageBackend,
    StorageUnavailable,
    StoredBlob,
    resolve_metadata,
    validate_key,
    validate_metadata,
    validate_prefix,
)

_MAGIC = b"CFBLOB2\n"
#: Trailer length (8 bytes, big-endian) followed by the magic tag.
_FOOTER = struct.Struct(">Q8s")
#: Number of lock files conditional writes hash onto; more stripes, less false contention.
LOCK_STRIPES = 64


class LocalBackend(StorageBackend):
    """Blobs as files under ``root``.

    Parameters:
      root(str | Path): the folder to keep everything in; created when missing.
    """

    name = "local"
    inline_head = True  # a stat and a trailer read of a local file

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._locks = self.root / "locks"
        for folder in (self._blobs, self._tmp, self._locks):
            folder.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        path = (self._blobs / validate_key(key)).resolve()
        if self._blobs not in path.parents:
            raise ValueError(f"key {key!r} resolves outside the storage root")
        return path

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        stripe = zlib.crc32(key.encode()) % LOCK_STRIPES
        with open(self._locks / f"{stripe:02d}", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- envelope ----------------------------------------------------------------------------
    @staticmethod
    def _read_trailer(handle: BinaryIO, key: str) -> tuple[dict, int]:
        """Return (trailer, body size) of an open blob file."""
        end = handle.seek(0, os.SEEK_END)
        if end < _FOOTER.size:
            raise BlobNotFound(key)  # a foreign or truncated file is not one of our blobs
        handle.seek(end - _FOOTER.size)
        length, magic = _FOOTER.unpack(handle.read(_FOOTER.size))
        if magic != _MAGIC or length > end - _FOOTER.size:
            raise BlobNotFound(key)
        body_size = end - _FOOTER.size - length
        handle.seek(body_size)
        return json.loads(handle.read(length)), body_size

    @staticmethod
    def _info(key: str, path: Path, trailer: dict, body_size: int) -> BlobInfo:
        return BlobInfo(
            key=key,
            size=body_size,
            etag=trailer["etag"],
            last_modified=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            metadata=trailer.get("metadata", {}),
        )

    def _open(self, key: str) -> tuple[BinaryIO, Path]:
        path = self._path(key)
        try:
            return open(path, "rb"), path
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc

    # -- interface ---------------------------------------------------------------------------
    def get(self, key: str) -> StoredBlob:
        handle, path = self._open(key)
        with handle:
            trailer, body_size = self._read_trailer(handle, key)
            handle.seek(0)
            data = handle.read(body_size)
            info = self._info(key, path, trailer, body_size)
        return StoredBlob(data=data, info=info)

    def head(self, key: str) -> BlobInfo:
        handle, path = self._open(key)
        with handle:
            trailer, body_size = self._read_trailer(handle, key)
            return self._info(key, path, trailer, body_size)

    def put(
        self,
        key: str,
        data: bytes | Iterable[bytes],
        *,
        metadata: Metadata = None,
        content_type: str = "application/json",
        create_only: bool = False,
        if_match: str | None = None,
    ) -> BlobInfo:
        path = self._path(key)
        temp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            with open(temp, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    for chunk in data:
                        out.write(chunk)
                header = {
                    "etag": uuid.uuid4().hex,
                    "metadata": validate_metadata(resolve_metadata(metadata)),
                    "content_type": content_type,
                }
                trailer = json.dumps(header).encode()
                out.write(trailer + _FOOTER.pack(len(trailer), _MAGIC))
            path.parent.mkdir(parents=True, exist_ok=True)
            if create_only:
                try:
                    os.link(temp, path)
                except FileExistsError:
                    raise AlreadyExists(key) from None
            elif if_match is not None:
                with self._locked(key):
                    if self._current_etag(key) != if_match:
                        raise PreconditionFailed(key)
                    os.replace(temp, path)
            else:
                os.replace(temp, path)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return self.head(key) if create_only else self._info_after_write(key, path, header)

    def _info_after_write(self, key: str, path: Path, header: dict) -> BlobInfo:
        try:
            return self.head(key)
        except BlobNotFound:
            # deleted again between our rename and the head; report what we wrote
            return BlobInfo(key, 0, header["etag"], datetime.now(UTC), header["metadata"])

    def _current_etag(self, key: str) -> str | None:
        try:
            return self.head(key).etag
        except BlobNotFound:
            return None

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        path = self._path(key)
        if if_match is None:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True
        with self._locked(key):
            current = self._current_etag(key)
            if current is None:
                return False
            if current != if_match:
                raise PreconditionFailed(key)
            path.unlink()
            return True

    def _keys(self, prefix: str) -> list[str]:
        validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        start = self._blobs / folder if folder else self._blobs
        if not start.is_dir():
            return []
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(start):
            relative = Path(dirpath).relative_to(self._blobs).as_posix()
            for filename in files:
                key = filename if relative == "." else f"{relative}/{filename}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    def count(self, prefix: str) -> int:
        return len(self._keys(prefix))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        for key in self._keys(prefix):
            try:
                yield self.head(key)
            except BlobNotFound:
                continue  # deleted while we listed

    def check(self) -> None:
        probe = self._tmp / f"ready-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"local storage at {self.root} is not writable: {exc}") from exc
