"""Stored ETags and bodies for GitHub conditional requests.

GitHub answers ``If-None-Match`` with 304 when nothing changed, and a 304 does not count against
the rate limit. The cache keeps (etag, body) per URL: in memory for one process, or on the
storage backend (behind a bounded memory layer, written through) so every worker process shares it
and a process re-syncing a repo reads no blob for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
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
    """A bounded in-process cache, least recently used dropped first.

    Parameters:
      max_entries(int): how many URLs to remember. Defaults to 10 000.
      max_bytes(int): the most JSON bytes of bodies to keep. Defaults to 64 MiB.
    """

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 2**20) -> None:
        self._entries: OrderedDict[str, tuple[str, Any, int]] = OrderedDict()
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, username: str, url: str) -> tuple[str, Any] | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            self._entries.move_to_end(url)
            return entry[0], entry[1]

    def put(self, username: str, url: str, etag: str, body: Any, size: int | None = None) -> None:
        size = size if size is not None else len(json.dumps(body, separators=(",", ":")))
        with self._lock:
            old = self._entries.pop(url, None)
            if old is not None:
                self._bytes -= old[2]
            if size > self._max_bytes:
                return
            self._entries[url] = (etag, body, size)
            self._bytes += size
            while len(self._entries) > self._max or self._bytes > self._max_bytes:
                _url, (_etag, _body, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped


class StorageEtagCache(EtagCache):
    """ETags kept on the storage backend under ``github-etags/<user>/<sha256(url)>``, with a bounded
    memory layer in front (read first, written through).

    Failures to read or write are ignored: the cache only saves requests, it never decides results.
    An entry in memory may be older than the blob (another process stored a newer answer); GitHub
    then answers 200 instead of 304 and the newer answer is stored: results never depend on it.

    Parameters:
      storage(StorageBackend): where entries are shared.
      memory(MemoryEtagCache | None): the memory layer. Defaults to one of 64 MiB.
    """

    def __init__(self, storage: StorageBackend, memory: MemoryEtagCache | None = None) -> None:
        self.storage = storage
        self.memory = memory if memory is not None else MemoryEtagCache()

    @staticmethod
    def _key(username: str, url: str) -> str:
        return etag_cache_key(username, hashlib.sha256(url.encode()).hexdigest())

    def get(self, username: str, url: str) -> tuple[str, Any] | None:
        remembered = self.memory.get(username, url)
        if remembered is not None:
            return remembered
        try:
            blob = self.storage.get(self._key(username, url))
            payload = json.loads(blob.data)
        except (BlobNotFound, StorageError, ValueError):
            return None
        self.memory.put(username, url, payload["etag"], payload["body"], size=len(blob.data))
        return payload["etag"], payload["body"]

    def put(self, username: str, url: str, etag: str, body: Any) -> None:
        data = json.dumps({"url": url, "etag": etag, "body": body}, separators=(",", ":")).encode()
        self.memory.put(username, url, etag, body, size=len(data))
        try:
            self.storage.put(self._key(username, url), data, metadata=tenant_metadata(username))
        except (StorageError, ValueError):
            return
