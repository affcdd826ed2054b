"""The storage interface every backend implements, its value types and its errors.

Keys are ``/``-separated relative names such as ``jobs/ab12/job.json``. Backends refuse any key
that could leave their root (empty segments, ``.``/``..``, backslashes, control characters), as a
second line of defence behind :mod:`services.core.keys`, which builds every key from validated names.

Writes are atomic (a reader sees the old or the new blob, never a mix) and may be conditional:
``create_only`` fails with :class:`AlreadyExists` when the key exists, ``if_match=etag`` fails with
:class:`PreconditionFailed` when the blob changed. Jobs and merge claims rely on both across
processes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.core.errors import CloudfolioError, DependencyUnavailable, InvalidInput, NotFound

_MAX_KEY_LENGTH = 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9._@=+-]+$")


class StorageError(CloudfolioError):
    """Base class of storage failures."""


class InvalidKey(StorageError, InvalidInput):
    """A key that could escape the backend's root or is not a plain relative name."""


class BlobNotFound(StorageError, NotFound, KeyError):
    """The key does not exist."""


class AlreadyExists(StorageError):
    """A create-only write found the key already present."""


class PreconditionFailed(StorageError):
    """A conditional write or delete found a different etag (someone else wrote first)."""


class StorageUnavailable(StorageError, DependencyUnavailable):
    """The backend cannot be reached; callers answer 503 or retry later."""

    service = "storage"


@dataclass(frozen=True)
class BlobInfo:
    """What a listing or a head returns about one blob."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredBlob:
    """A blob's bytes together with its info."""

    data: bytes
    info: BlobInfo


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative name, else raise :class:`InvalidKey`."""
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
        raise InvalidKey("storage key must be a non-empty string of at most 1024 characters")
    for segment in key.split("/"):
        if segment in {"", ".", ".."} or not _SEGMENT.fullmatch(segment):
            raise InvalidKey(f"unsafe storage key segment {segment!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key, optionally ending in ``/``."""
    if prefix == "":
        return prefix
    validate_key(prefix.rstrip("/") if prefix.endswith("/") else prefix)
    return prefix


#: Blob metadata, or a callable producing it once the body has been written (for values computed
#: while streaming, such as a bundle fingerprint).
Metadata = Mapping[str, str] | Callable[[], Mapping[str, str]] | None


def resolve_metadata(metadata: Metadata) -> Mapping[str, str] | None:
    return metadata() if callable(metadata) else metadata


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Blob metadata names are C identifiers and values ASCII, as Azure requires."""
    clean: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidKey(f"metadata name {name!r} must be a C identifier")
        if not isinstance(value, str) or not value.isascii():
            raise InvalidKey(f"metadata {name!r} must be an ASCII string")
        clean[name.lower()] = value
    return clean


class StorageBackend(ABC):
    """Get, put, delete and list blobs, with metadata and conditional writes."""

    #: A short name for logs and ``/ready`` ("local", "azure").
    name = "storage"
    #: True when heads and a few reads and writes are local file operations of well under a
    #: millisecond: a request may do them on its event loop rather than pay a thread hop. Network
    #: backends keep False.
    inline_io = False

    @abstractmethod
    def get(self, key: str) -> StoredBlob:
        """Read a whole blob; raise :class:`BlobNotFound` when absent."""

    @abstractmethod
    def head(self, key: str) -> BlobInfo:
        """Read a blob's info only; raise :class:`BlobNotFound` when absent."""

    @abstractmethod
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
        """Write a blob atomically. ``data`` may be an iterable of chunks (streamed, never joined);
        ``metadata`` may be a callable, evaluated after the last chunk was consumed and before the blob
        is published. An exception raised by either publishes nothing, leaves the stored blob as it was
        and reaches the caller (the local backend reports an ``OSError`` as :class:`StorageUnavailable`);
        a bundle write abandons itself that way (``services.core.cache``)."""

    @abstractmethod
    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        """Delete a blob; return False when it was already absent."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose key starts with ``prefix``, with metadata, in key order."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with ``prefix``, in key order, without reading any blob's info
        (a sweep over thousands of jobs needs their names, not a head of every marker)."""
        for info in self.list(prefix):
            yield info.key

    def folders(self, prefix: str = "") -> Iterator[str]:
        """The names of the folders right under ``prefix`` (empty, or ending in ``/``), in order: for
        ``jobs/`` the job ids, one per job however many blobs each holds. Backends list the folder
        itself where they can; this default derives the names from every key."""
        if prefix and not prefix.endswith("/"):
            raise InvalidKey(f"a folder prefix ends in '/': {prefix!r}")
        last = None
        for key in self.keys(prefix):
            name, slash, _rest = key[len(prefix):].partition("/")
            if slash and name != last:
                last = name
                yield name

    def count(self, prefix: str) -> int:
        """Number of blobs under ``prefix``, from names alone."""
        return sum(1 for _key in self.keys(prefix))

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except BlobNotFound:
            return False
        return True

    def check(self) -> None:
        """Raise :class:`StorageUnavailable` if the backend cannot be used (for ``/ready``)."""

    def close(self) -> None:
        """Release connections; the default has none."""
