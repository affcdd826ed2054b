"""Which traces are kept: every write, every continued trace, and a few reads a second.

The router serves thousands of cached reads a second for every refresh; recording each read's span
costs it far more than the request itself (docs/OBSERVABILITY.md, "What tracing costs"), while the
story worth following is the refresh. :class:`ReadRateSampler` is the default sampler when
``OTEL_TRACES_SAMPLER`` is unset:

- a span with a parent follows the parent's decision (W3C ``sampled`` flag, local or remote), so a
  trace is never cut in the middle and a caller that samples decides for us;
- a root ``SERVER`` span of a read (``GET``, ``HEAD``, ``OPTIONS``) is kept while a token bucket of
  ``reads_per_second`` (burst: one second's worth, at least one) has a token, otherwise dropped;
- every other root (a refresh ``POST``, a worker's message without a trace, a background job) is kept.

A kept read (and each of its local child spans) carries ``_MS.sampleRate``: the percentage of
reads kept over the last one to two seconds. Application Insights turns it into the row's
``itemCount`` (100 / rate), so a query that sums ``itemCount`` counts the requests that were
served, not the ones that were kept.

Guarantees: the decision for a read costs a clock read and a few float operations (no hashing of the
trace id); :meth:`ReadRateSampler.admits_read` lets the router's middleware refuse a read before the
SDK builds a span at all, and counts it as seen. Under concurrent threads the bucket is approximate
(no lock): a token more or less, never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind

from services.core.tracing import READ_METHODS

#: The attribute Azure Monitor's exporter reads as the envelope's sampling percentage.
SAMPLE_RATE = "_MS.sampleRate"

#: The request method's attribute on the router's SERVER spans (router/middleware/tracing.py).
_METHOD = "http.request.method"


class ReadRateSampler(Sampler):
    """Parent-based; roots of read requests limited to ``reads_per_second``; other roots always kept.

    Parameters:
      reads_per_second(float): read traces started per second (0: none; a read continuing a sampled
        caller's trace is still kept).
      clock(Callable[[], float]): monotonic seconds (injected by tests).
    """

    def __init__(self, reads_per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(0.0, float(reads_per_second))
        self.capacity = max(1.0, self.rate) if self.rate else 0.0
        self._clock = clock
        self._tokens = self.capacity
        self._filled_at = clock()
        # reads seen and kept in the current and the previous one-second window (for _MS.sampleRate)
        self._window = int(self._filled_at)
        self._seen = [0, 0]
        self._kept = [0, 0]

    def admits_read(self) -> bool:
        """Whether a root read started now would be kept; a refused read is counted as seen.

        The token itself is taken by :meth:`should_sample` when the span is then started."""
        now = self._roll()
        if self._refill(now) >= 1.0:
            return True
        self._seen[1] += 1
        return False

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: SpanKind | None = None,
                      attributes: Mapping[str, Any] | None = None, links: Sequence[Link] | None = None,
                      trace_state: Any = None) -> SamplingResult:
        parent_span = trace.get_current_span(parent_context)
        parent = parent_span.get_span_context()
        if parent.is_valid:
            if not parent.trace_flags.sampled:
                return SamplingResult(Decision.DROP, None, parent.trace_state)
            # a kept read's children stand for as many requests as it does
            rate = (getattr(parent_span, "attributes", None) or {}).get(SAMPLE_RATE)
            inherited = attributes if rate is None else {**(attributes or {}), SAMPLE_RATE: rate}
            return SamplingResult(Decision.RECORD_AND_SAMPLE, inherited, parent.trace_state)
        if kind is not SpanKind.SERVER or (attributes or {}).get(_METHOD) not in READ_METHODS:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        return self._sample_read(attributes)

    def get_description(self) -> str:
        return f"ReadRateSampler{{reads_per_second={self.rate:g}}}"

    def _sample_read(self, attributes: Mapping[str, Any] | None) -> SamplingResult:
        now = self._roll()
        self._seen[1] += 1
        if self._refill(now) < 1.0:
            return SamplingResult(Decision.DROP)
        self._tokens -= 1.0
        self._kept[1] += 1
        percentage = 100.0 * sum(self._kept) / sum(self._seen)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, {**(attributes or {}), SAMPLE_RATE: percentage})

    def _roll(self) -> float:
        """Move the one-second windows on; return the clock's reading."""
        now = self._clock()
        second = int(now)
        if second != self._window:
            recent = second == self._window + 1
            self._seen = [self._seen[1] if recent else 0, 0]
            self._kept = [self._kept[1] if recent else 0, 0]
            self._window = second
        return now

    def _refill(self, now: float) -> float:
        self._tokens = min(self.capacity, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now
        return self._tokens

