"""Stored ETags and bodies for GitHub conditional requests.

GitHub answers ``If-None-Match`` with 304 when nothing changed, and a 304 does not count against
the rate limit. The cache keeps (etag, body) per URL: in memory for one process, or on the
storage backend so every worker process shares it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from typing import Any

from services.core.keys import etag_cache_key, tenant_metadata
from services.core.storage import BlobNotFound, StorageBackend, StorageError


class EtagCache(ABC):
    """Remembers the last 200 response of a URL with its ETag."""

    @abstractmethod
    def get(self, username: str, url: str) -> tuple[str, Any] | None:
        """``(etag, body)`` stored for ``url``, or None."""

    @abstractmethod
    def put(self, username: str, url: str, etag: str, body: Any) -> None:
        """Store a fresh 200 answer."""


class MemoryEtagCache(EtagCache):
    """A bounded in-process cache (oldest entries dropped first).

    Parameters:
      max_entries(int): how many URLs to remember. Defaults to 10 000.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[str, Any]] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, username: str, url: str) -> tuple[str, Any] | None:
        with self._lock:
            return self._entries.get(url)

    def put(self, username: str, url: str, etag: str, body: Any) -> None:
        with self._lock:
            self._entries.pop(url, None)
            self._entries[url] = (etag, body)
            while len(self._entries) > self._max:
                self._entries.pop(next(iter(self._entries)))


class StorageEtagCache(EtagCache):
    """ETags kept on the storage backend under ``github-etags/<user>/<sha256(url)>``.

    Failures to read or write are ignored: the cache only saves requests, it never decides results.
    """

    def __init__(self, storage: StorageBackend) -> None:
        self.storage = storage

    @staticmethod
    def _key(username: str, url: str) -> str:
        return etag_cache_key(username, hashlib.sha256(url.encode()).hexdigest())

    def get(self, username: str, url: str) -> tuple[str, Any] | None:
        try:
            payload = json.loads(self.storage.get(self._key(username, url)).data)
        except (BlobNotFound, StorageError, ValueError):
            return None
        return payload["etag"], payload["body"]

    def put(self, username: str, url: str, etag: str, body: Any) -> None:
        data = json.dumps({"url": url, "etag": etag, "body": body}, separators=(",", ":")).encode()
        try:
            self.storage.put(self._key(username, url), data, metadata=tenant_metadata(username))
        except (StorageError, ValueError):
            return
