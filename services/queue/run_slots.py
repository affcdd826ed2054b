"""Run slots: how many actor bodies a worker process runs at once when they have nothing to wait for.

With the local repo source and local storage a sync has no network wait: it is Python work and short
system calls. Python's GIL lets one thread run at a time and every system call hands it on, so 32
worker threads running such syncs together spend their time passing the GIL between them (90-odd
context switches a repo, against 14 with one thread). Measured on 2 cores: one worker process
through RabbitMQ took 2.6-3.7 ms a repo with 32 threads running at once and 1.9-2.1 ms with two
slots (docs/BENCHMARKS.md). Threads waiting for a slot sleep on a semaphore instead.

Guarantees:

- a slot is held only while the actor's function runs, and given back on every way out (return,
  exception, a retry, a time limit); the wait for a slot is part of the message's time, so its
  time limit and its span include it;
- a thread never waits for a slot while it holds one (a gated function called from a gated
  function runs in the slot it has), and a gated body waits only for locks that other running
  bodies or ungated threads hold, so slots cannot deadlock;
- with 0 slots, or when the source or the storage waits on the network (GitHub, Blob storage:
  threads then spend most of their time waiting, and limiting them would limit the concurrency of
  those waits), functions run ungated, exactly as before. The choice follows the backend's kind,
  not its medium: local storage on a network file system (NFS, Azure Files) is still gated; set
  ``CLOUDFOLIO_WORKER_RUN_SLOTS=0`` there.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

#: Seconds a thread waits for a slot before it looks again.
WAIT_ROUND_SECONDS = 0.5


class RunSlots:
    """A process's slots for actor bodies (``slots`` at once; 0: no limit).

    Parameters:
      slots(int): how many gated functions may run at once in this process; 0 turns gating off.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots) if slots > 0 else None
        self._held = threading.local()

    def gated(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` run in a slot (``fn`` itself when there is no limit)."""
        semaphore = self._semaphore
        if semaphore is None:
            return fn
        held = self._held

        @functools.wraps(fn)
        def in_slot(*args: Any, **kwargs: Any) -> Any:
            if getattr(held, "slot", False):  # already running in this thread's slot
                return fn(*args, **kwargs)
            # in rounds: a waiter woken for a free slot and then interrupted (Dramatiq's time limit
            # raises in the thread) would take that wake-up with it; the others look again within a round
            while not semaphore.acquire(timeout=WAIT_ROUND_SECONDS):
                pass
            held.slot = True
            try:
                return fn(*args, **kwargs)
            finally:
                held.slot = False
                semaphore.release()

        return in_slot
