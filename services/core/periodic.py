"""``Periodic``: one call every ``interval`` seconds in a daemon thread, for a process's background chores
(the job sweeper, the usage meter). A call that raises is logged and tried again at the next interval;
:meth:`Periodic.stop` returns once the thread has ended (or after ``timeout`` seconds)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    """Run ``work`` every ``interval`` seconds (first after one interval) until :meth:`stop`.

    Parameters:
      name(str): the thread's name, and what the log says failed.
      interval(float): seconds between calls.
      work(callable): the chore; its return value is ignored.
      log(logging.Logger): where a failing call is logged.
    """

    def __init__(self, name: str, interval: float, work: Callable[[], object], log: logging.Logger) -> None:
        self.name, self.interval, self.work, self.log = name, interval, work, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.work()
            except Exception:
                self.log.exception("%s failed; trying again next interval", self.name)
