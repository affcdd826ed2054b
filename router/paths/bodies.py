"""A bounded in-memory cache of answer bodies, each valid for one storage etag.

The router serves the same bundle to every poll of the front end; keeping the spliced answer in
memory saves the storage read and the splice. An entry is used only while the blob's etag is the
one it was built from (the caller heads the blob first), so a new merge is served at once. Least
recently used entries go first once ``max_bytes`` is reached; a body larger than that is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: Default budget: a few hundred typical bundles (tens of KB to a few MB each).
DEFAULT_MAX_BYTES = 64 * 2**20


class BodyCache:
    """Answer bodies by storage key, each tagged with the etag it was built from.

    Parameters:
      max_bytes(int): the most body bytes kept. Defaults to 64 MiB; 0 keeps nothing.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str, etag: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != etag:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: str, etag: str, body: bytes) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            if len(body) > self.max_bytes:
                return
            self._entries[key] = (etag, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _key, (_etag, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes
