"""Group commit: one process's concurrent changes of one document ride in one write.

A document updated by compare-and-swap (a job counting its repos) is a queue of writers: each holds
the document's turn for a read and a write. With 32 worker threads syncing one job's repos, the
threads spent about half their time waiting for that turn. :class:`GroupCommit` lets the changes
that arrive while a write is under way join a batch; the first of them to get the turn applies the
whole batch in one read-modify-write and hands every member the result. The number of writes then
follows the storage's speed instead of the number of threads, and nothing changes for callers:

- each change is applied exactly once per attempt, in arrival order, on the document as read (a
  compare-and-swap retry re-reads and applies the whole batch again);
- every member gets the document as written after the batch (so it may already show later members'
  changes), or the exception the batch's write raised;
- a batch whose changes all said "nothing to write" writes nothing.

Changes of other processes are not batched: the compare-and-swap still decides between processes.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
#: A change mutates the document in place; it returns False when there is nothing to write.
Change = Callable[[T], "bool | None"]
#: Applies one combined change with compare-and-swap and returns the document as written.
Apply = Callable[[str, Change[T]], T]

#: Lock stripes: documents that share a stripe take turns, others do not.
STRIPES = 64


class _Batch(Generic[T]):
    __slots__ = ("changes", "finished", "result", "error")

    def __init__(self) -> None:
        self.changes: list[Change[T]] = []
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def change(self, document: T) -> bool | None:
        wrote = False
        for change in self.changes:
            wrote = change(document) is not False or wrote
        return None if wrote else False


class GroupCommit(Generic[T]):
    """Batches concurrent changes of one document (by key) into one call of ``apply``.

    Parameters:
      apply(Apply): ``apply(key, change)`` reads the document, calls ``change`` on it and writes it
        back unless ``change`` returned False (retrying on conflict); it returns the document.
    """

    def __init__(self, apply: Apply[T]) -> None:
        self._apply = apply
        self._turns = [threading.Lock() for _ in range(STRIPES)]
        self._open: dict[str, _Batch[T]] = {}
        self._open_lock = threading.Lock()

    def update(self, key: str, change: Change[T]) -> T:
        """Apply ``change`` to the document ``key`` together with the changes waiting beside it."""
        with self._open_lock:
            batch = self._open.get(key)
            if batch is None:
                batch = self._open[key] = _Batch()
            batch.changes.append(change)
        with self._turns[zlib.crc32(key.encode()) % STRIPES]:
            if not batch.finished:
                with self._open_lock:  # closed: later changes start the next batch
                    if self._open.get(key) is batch:
                        del self._open[key]
                try:
                    batch.result = self._apply(key, batch.change)
                except BaseException as error:  # every member raises what the write raised
                    batch.error = error
                finally:
                    batch.finished = True
        if batch.error is not None:
            raise batch.error
        return batch.result  # type: ignore[return-value]
