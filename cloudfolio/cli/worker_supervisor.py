"""``cloudfolio worker --processes N``: N worker processes that start, take signals and stop together.

One worker process is bound by Python's GIL, so on a machine with several cores the worker runs one
process per core (``CLOUDFOLIO_WORKER_PROCESSES``). :func:`supervise` starts each command as a child
and then, like Dramatiq's own CLI:

- passes SIGTERM and SIGINT on to every child (each finishes its running messages and hands its
  prefetched ones back to RabbitMQ) and returns the worst exit code once all have stopped (a child
  the signal stopped before it set its own handler counts as stopped cleanly);
- when a child exits without being asked to (killed, crashed, out of memory), stops the others the
  same way and returns that child's code (1 where it was killed by a signal or left with 0), so the
  orchestrator restarts the whole worker instead of leaving it running at part strength unnoticed.

A child dies with its supervisor (Linux's ``PR_SET_PDEATHSIG`` sends it SIGTERM): a supervisor killed
with SIGKILL leaves no worker consuming on its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("cloudfolio.worker")

#: ``PR_SET_PDEATHSIG`` from linux/prctl.h.
PR_SET_PDEATHSIG = 1
#: Seconds between the supervisor's looks at its children.
POLL_SECONDS = 0.2
#: The signals a stop passes on to the children.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _die_with(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child sent SIGTERM when ``parent`` dies (None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before the line above: nobody would stop us
            os._exit(1)

    return arm


def _exit_code(returncode: int) -> int:
    """A child's code as a process exit code: killed by a signal (negative) counts as 1."""
    return 1 if returncode < 0 else returncode


def supervise(commands: Sequence[Sequence[str]], poll: float = POLL_SECONDS) -> int:
    """Run ``commands`` as child processes until they all stop; return the exit code (see module)."""
    arm = _die_with(os.getpid())
    children: list[subprocess.Popen] = []
    stopping = False
    unexpected: int | None = None

    def stop_all(signum: int) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        stop_all(signum)

    # before the first child starts: a stop asked for while they start reaches those already started
    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        for command in commands:
            if stopping:
                break
            children.append(subprocess.Popen(list(command), preexec_fn=arm))
        while True:
            gone = [child for child in children if child.poll() is not None]
            if len(gone) == len(children):
                break
            if gone and not stopping:
                child = gone[0]
                log.critical("worker process %d exited unexpectedly with %d; stopping the other %d",
                             child.pid, child.returncode, len(children) - len(gone))
                unexpected = _exit_code(child.returncode) or 1
                stopping = True
                stop_all(signal.SIGTERM)
            time.sleep(poll)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if unexpected is not None:
        return unexpected
    # a child stopped by the signal we passed on before it set its own handler ended cleanly too
    return max((0 if -child.returncode in STOP_SIGNALS else _exit_code(child.returncode) for child in children),
               default=0)
