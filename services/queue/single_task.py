"""Run one piece of work under a wall-clock deadline, keeping a connection alive meanwhile.

Single-task mode (a scale-to-zero container running one task) runs its work in a thread and
waits for it at most ``timeout`` seconds; ``keep_alive(seconds)`` is called while waiting (an AMQP
delivery serves its heartbeats there). Work that overruns cannot be interrupted (a training loop
in C code ignores Python signals): the caller ends the process after reporting the timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

OK, FAILED, TIMED_OUT = "ok", "failed", "timed_out"


@dataclass(frozen=True)
class Finished:
    """How the work ended: ``ok`` with its value, ``failed`` with the exception, or ``timed_out``."""

    state: str
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def error_text(self) -> str:
        return f"{type(self.error).__name__}: {self.error}" if self.error is not None else ""


def run_with_deadline(work: Callable[[], Any], timeout: float,
                      keep_alive: Callable[[float], None] | None = None) -> Finished:
    """Run ``work()`` in a daemon thread; wait for it at most ``timeout`` seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except Exception as exc:
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, name="single-task", daemon=True)
    thread.start()
    deadline = started + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        slice_ = min(1.0, max(0.0, deadline - time.monotonic()))
        if keep_alive is not None:
            keep_alive(slice_)
        else:
            thread.join(slice_)
    seconds = round(time.monotonic() - started, 3)
    if thread.is_alive():
        return Finished(TIMED_OUT, seconds=seconds)
    if "error" in outcome:
        return Finished(FAILED, error=outcome["error"], seconds=seconds)
    return Finished(OK, value=outcome.get("value"), seconds=seconds)
