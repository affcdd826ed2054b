"""Front-end traffic for rollout tests and benchmarks: refreshes of many users over router replicas.

:func:`front_end_traffic` refreshes every user in turn, round robin over the replicas, about fifty a
second, and polls each started job's status every half second until it ends, as the portfolio
front end does (a router counts a failed job when a status poll sees it). Transport errors are
ignored: what is judged is what the routers counted. ``answers`` (when given) receives every
refresh answer's JSON with the time it arrived.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx


@contextlib.contextmanager
def front_end_traffic(routers: Sequence[str], users: Sequence[str], *, force: bool = False,
                      answers: Callable[[float, dict[str, Any]], None] | None = None) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        targets = itertools.cycle(itertools.product(routers, users))
        pending: list[tuple[float, str, str, str]] = []  # (when to look, router, user, job)
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                router, user = next(targets)
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    answer = client.post(f"{router}/bundles/{user}/refresh", json={"force": force})
                    if answers is not None:
                        answers(time.monotonic(), answer.json())
                    if answer.status_code == 202 and len(pending) < 200:
                        pending.append((time.monotonic() + 0.5, router, user, answer.json()["job_id"]))
                    if pending and pending[0][0] <= time.monotonic():
                        _due, router, user, job = pending.pop(0)
                        view = client.get(f"{router}/bundles/{user}/status", params={"job_id": job}).json()
                        if view["status"] == "processing":
                            pending.append((time.monotonic() + 0.5, router, user, job))
                stop.wait(0.02)

    worker = threading.Thread(target=run, name="front-end-traffic", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=15)
