"""Shadow mirroring and comparison of the two paths (Scientist's experiment, run asynchronously).

When shadow mode is on and a request is sampled, the request is served by its primary path as
usual and a copy is started on the other path in the background: the queue path with
``mode=shadow`` (its own namespace), the legacy path in its own namespace. The mirror:

- never delays, fails or changes the primary response: it starts after the primary answered, in
  a detached task, and every error stays inside it;
- is bounded: at most ``max_concurrency`` mirrors run at once; beyond that a mirror is dropped
  and counted (``shadow_mirrors_total{outcome="dropped"}``), never queued;
- waits for both runs (at most ``timeout`` seconds), compares bundle fingerprints, and when they
  differ names the repos that differ and tells a source change between the two fetches from a
  divergence on the same revision (:func:`rollout.comparison.judge`).

Verdicts (:class:`rollout.comparison.ShadowVerdict`): ``match``, ``source_changed``, ``divergence``,
``timeout``, ``shadow_error``, ``primary_error``. Each
comparison is kept in memory (the latest 200, for ``GET /admin/shadow``, and the latest 20
divergences apart, for the dashboard), written to storage under
``shadow-comparisons/``, counted in ``shadow_comparisons_total{verdict, primary_path}``, and a
divergence is logged as a warning with its diff (a source change at info, naming its repos).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.context import Context
from starlette.concurrency import run_in_threadpool

from rollout.comparison import ShadowVerdict, field_differences, judge
from router.metrics import RouterMetrics
from router.paths import PathFailed, Run
from services.core import tracing
from services.core.keys import tenant_metadata
from services.core.serving import ServingPath
from services.core.storage import StorageBackend

log = logging.getLogger("cloudfolio.shadow")


@dataclass
class Comparison:
    """One shadow comparison, as stored and served."""

    comparison_id: str
    username: str
    primary_path: str
    shadow_path: str
    verdict: str
    primary_fingerprint: str | None = None
    shadow_fingerprint: str | None = None
    diff: dict[str, list[str]] = field(default_factory=dict)
    #: For each divergent repo, the fields the two records disagree on: ``{repo: {field: [primary, shadow]}}``.
    fields: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    primary_seconds: float | None = None
    shadow_seconds: float | None = None
    error: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class ShadowMirror:
    """Starts and compares shadow runs.

    Parameters:
      paths(dict[str, path]): ``{"queue": QueuePath, "legacy": LegacyPath}``.
      storage(StorageBackend): where comparisons are written.
      metrics(RouterMetrics): counters.
      max_concurrency(int): mirrors allowed at once. Defaults to 8.
      timeout(float): seconds to wait for both runs. Defaults to 600.
    """

    def __init__(self, paths: dict[str, Any], storage: StorageBackend, metrics: RouterMetrics,
                 max_concurrency: int = 8, timeout: float = 600.0, rng: random.Random | None = None) -> None:
        self.paths = paths
        self.storage = storage
        self.metrics = metrics
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.recent: deque[Comparison] = deque(maxlen=200)
        #: Divergences kept apart: under traffic the latest 200 comparisons are matches within seconds.
        self.divergences: deque[Comparison] = deque(maxlen=20)
        self._running: set[asyncio.Task] = set()
        self._rng = rng or random.Random()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def maybe_mirror(self, primary: Run, force: bool, sample_pct: float) -> str:
        """Start a mirror of ``primary`` if sampled and within bounds; return what happened."""
        if self._rng.uniform(0, 100) >= sample_pct:
            outcome = "sampled_out"
        elif len(self._running) >= self.max_concurrency:
            outcome = "dropped"
            log.warning("shadow mirror dropped: %d mirrors already running", len(self._running),
                        extra={"username": primary.username})
        else:
            outcome = "started"
            task = asyncio.get_running_loop().create_task(self._mirror(primary, force))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self.metrics.shadow_mirrors.labels(outcome).inc()
        return outcome

    async def _mirror(self, primary: Run, force: bool) -> None:
        shadow_name = ServingPath(primary.path).other
        comparison = Comparison(uuid.uuid4().hex, primary.username, primary.path, shadow_name,
                                verdict=ShadowVerdict.MATCH)
        # its own trace, linked to the request's: the mirror is not part of what the client waited for
        with tracing.span(tracing.SHADOW_MIRROR, context=Context(), links=tracing.link_to_current(),
                          username=primary.username, path=shadow_name, mode="shadow") as span:
            try:
                await asyncio.wait_for(self._compare(primary, force, comparison), timeout=self.timeout)
            except TimeoutError:
                comparison.verdict, comparison.error = ShadowVerdict.TIMEOUT, f"no result within {self.timeout:.0f}s"
            except Exception as exc:  # nothing in a mirror may escape
                comparison.verdict, comparison.error = ShadowVerdict.SHADOW_ERROR, f"{type(exc).__name__}: {exc}"
            span.set_attribute("cloudfolio.shadow_verdict", str(comparison.verdict))
            await self._publish(comparison)

    async def _compare(self, primary: Run, force: bool, comparison: Comparison) -> None:
        shadow_path = self.paths[comparison.shadow_path]
        try:
            shadow_run = await shadow_path.start(primary.username, force, shadow=True)
        except Exception as exc:
            comparison.verdict = ShadowVerdict.SHADOW_ERROR
            comparison.error = f"shadow start failed: {type(exc).__name__}: {exc}"
            return
        primary_result, shadow_result = await asyncio.gather(
            self.paths[primary.path].wait(primary, self.timeout), shadow_path.wait(shadow_run, self.timeout),
            return_exceptions=True)
        if isinstance(primary_result, BaseException):
            timed_out = isinstance(primary_result, TimeoutError)
            comparison.verdict = ShadowVerdict.TIMEOUT if timed_out else ShadowVerdict.PRIMARY_ERROR
            comparison.error = f"primary: {type(primary_result).__name__}: {primary_result}"
            return
        comparison.primary_fingerprint = primary_result.bundle_fingerprint
        comparison.primary_seconds = round(primary_result.seconds, 3)
        if isinstance(shadow_result, BaseException):
            timed_out = isinstance(shadow_result, TimeoutError)
            comparison.verdict = ShadowVerdict.TIMEOUT if timed_out else ShadowVerdict.SHADOW_ERROR
            kind = "failed" if isinstance(shadow_result, PathFailed) else type(shadow_result).__name__
            comparison.error = f"shadow {kind}: {shadow_result}"
            return
        comparison.shadow_fingerprint = shadow_result.bundle_fingerprint
        comparison.shadow_seconds = round(shadow_result.seconds, 3)
        if primary_result.bundle_fingerprint == shadow_result.bundle_fingerprint:
            comparison.verdict = ShadowVerdict.MATCH
        else:
            comparison.verdict, comparison.diff = judge(primary_result.fingerprints, shadow_result.fingerprints,
                                                        primary_result.revisions, shadow_result.revisions)
            comparison.fields = field_differences(comparison.diff["divergent"], primary_result.metadata,
                                                  shadow_result.metadata)

    async def _publish(self, comparison: Comparison) -> None:
        self.recent.append(comparison)
        if comparison.verdict == ShadowVerdict.DIVERGENCE:
            self.divergences.append(comparison)
        self.metrics.shadow.labels(comparison.verdict, comparison.primary_path).inc()
        extra = {"username": comparison.username, "path": comparison.primary_path}
        if comparison.verdict == ShadowVerdict.DIVERGENCE:
            log.warning("shadow divergence for %s: %s", comparison.username, json.dumps(comparison.diff), extra=extra)
        elif comparison.verdict == ShadowVerdict.SOURCE_CHANGED:
            log.info("shadow comparison source_changed for %s: %s", comparison.username,
                     json.dumps(comparison.diff["source_changed"] + comparison.diff["only_primary"]
                                + comparison.diff["only_shadow"]), extra=extra)
        else:
            log.info("shadow comparison %s for %s", comparison.verdict, comparison.username, extra=extra)
        key = f"shadow-comparisons/{comparison.at[:10]}/{comparison.comparison_id}.json"
        body = json.dumps(asdict(comparison)).encode()
        try:
            await run_in_threadpool(self.storage.put, key, body, metadata=tenant_metadata(comparison.username))
        except Exception as exc:
            log.error("could not store shadow comparison: %s", exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait a little for running mirrors (used at shutdown); cancel what remains."""
        if not self._running:
            return
        _done, pending = await asyncio.wait(set(self._running), timeout=timeout)
        for task in pending:
            task.cancel()
