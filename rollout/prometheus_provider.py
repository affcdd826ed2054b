"""The rollout's evidence from Prometheus' HTTP API: the production default wherever a Prometheus
scrapes the routers (behind a load balancer with autoscaled replicas, no list of URLs works).

Each measurement runs the PromQL queries below through ``GET /api/v1/query`` (instant queries over
``[<window>s]`` ranges, so every replica Prometheus scraped is summed); they are shown, resolved, in
``rollout status``. Prometheus unreachable, an error status or a malformed answer raise
:class:`~rollout.measure.MetricsUnavailable`; an empty result is 0 (no traffic), which the analysis
treats as inconclusive.

:meth:`PrometheusProvider.series` answers the dashboard's charts with range queries
(``GET /api/v1/query_range``, :data:`RANGE_QUERIES`): every replica's requests, errors and p95 per
path over the last minutes, one point per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from rollout.analysis import Measurements, PathWindow
from rollout.measure import COMPARED, PATHS, REFRESH_ROUTE, MetricsProvider, MetricsUnavailable
from rollout.series import Series, combine
from services.core.redaction import redact_text

COMPARED_RE = "|".join(COMPARED)
_ROUTE = REFRESH_ROUTE.replace("{", "{{").replace("}", "}}")  # a template's braces survive str.format

#: The queries, ``{w}`` being the window in seconds.
QUERIES = {
    "requests": 'sum by (path) (increase(router_requests_total{{path=~"queue|legacy"}}[{w}s]))',
    "errors_5xx": 'sum by (path) (increase(router_requests_total{{path=~"queue|legacy",status_class="5xx"}}[{w}s]))',
    "failed_jobs": 'sum by (path) (increase(router_jobs_finished_total'
                   '{{path=~"queue|legacy",outcome="failed"}}[{w}s]))',
    "p95": 'histogram_quantile(0.95, sum by (le, path) (rate(router_request_duration_seconds_bucket'
           '{{route="' + _ROUTE + '",path=~"queue|legacy"}}[{w}s])))',
    "comparisons": 'sum(increase(shadow_comparisons_total{{verdict=~"' + COMPARED_RE + '"}}[{w}s]))',
    "divergences": 'sum(increase(shadow_comparisons_total{{verdict="divergence"}}[{w}s]))',
}

#: The dashboard's range queries, ``{r}`` being the rate window in seconds (every route of a path).
RANGE_QUERIES = {
    "rate": 'sum by (path) (rate(router_requests_total{{path=~"queue|legacy"}}[{r}s]))',
    "errors_5xx": 'sum by (path) (rate(router_requests_total{{path=~"queue|legacy",status_class="5xx"}}[{r}s]))',
    "failed_jobs": 'sum by (path) (rate(router_jobs_finished_total{{path=~"queue|legacy",outcome="failed"}}[{r}s]))',
    "p95": 'histogram_quantile(0.95, sum by (le, path) (rate(router_request_duration_seconds_bucket'
           '{{path=~"queue|legacy"}}[{r}s])))',
}


class PrometheusProvider(MetricsProvider):
    """Measurements from a Prometheus server.

    Parameters:
      url(str): Prometheus' root (``http://prometheus:9090``).
      timeout(float): seconds per query. Defaults to 5.
      clock(callable): wall-clock seconds, the end of a range query; tests set their own.
    """

    name = "prometheus"

    def __init__(self, url: str, timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.clock = clock

    def _query(self, promql: str, endpoint: str = "query", **window: float) -> list[dict[str, Any]]:
        try:
            response = httpx.get(f"{self.url}/api/v1/{endpoint}", params={"query": promql, **window},
                                 timeout=self.timeout)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise MetricsUnavailable(redact_text(f"Prometheus at {self.url} did not answer: {type(exc).__name__}: "
                                                 f"{exc}")) from exc
        if response.status_code != 200 or body.get("status") != "success":
            raise MetricsUnavailable(f"Prometheus refused {promql!r}: {body.get('error', response.status_code)}")
        result = body.get("data", {}).get("result")
        if not isinstance(result, list):
            raise MetricsUnavailable(f"Prometheus answered {promql!r} without a vector")
        return result

    def _by_path(self, promql: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for item in self._query(promql):
            path = item.get("metric", {}).get("path", "")
            try:
                value = float(item["value"][1])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise MetricsUnavailable(f"Prometheus answered {promql!r} with a malformed sample") from exc
            if value == value:  # NaN (no observations in the window) is no value
                values[path] = value
        return values

    def measure(self, window_seconds: float) -> Measurements:
        resolved = {name: query.format(w=f"{window_seconds:g}") for name, query in QUERIES.items()}
        requests, errors = self._by_path(resolved["requests"]), self._by_path(resolved["errors_5xx"])
        failed, p95 = self._by_path(resolved["failed_jobs"]), self._by_path(resolved["p95"])
        comparisons = sum(self._by_path(resolved["comparisons"]).values())
        divergences = sum(self._by_path(resolved["divergences"]).values())
        windows = {path: PathWindow(requests.get(path, 0.0), errors.get(path, 0.0) + failed.get(path, 0.0),
                                    p95.get(path)) for path in PATHS}
        return Measurements(windows["queue"], windows["legacy"], comparisons, divergences, queries=resolved)

    def _ranges(self, promql: str, start: float, end: float, step: float) -> dict[str, dict[float, float]]:
        values: dict[str, dict[float, float]] = {}
        for item in self._query(promql, "query_range", start=start, end=end, step=step):
            path = item.get("metric", {}).get("path", "")
            try:
                pairs = [(float(at), float(value)) for at, value in item["values"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise MetricsUnavailable(f"Prometheus answered {promql!r} with a malformed range") from exc
            values[path] = {at: value for at, value in pairs if value == value}  # NaN: no value
        return values

    def series(self, span: float, step: float) -> Series:
        """Every replica's requests, error ratio and p95 per path over the last ``span`` seconds."""
        end = self.clock()
        window = max(4 * step, 60.0)  # a rate needs a few scrapes inside its window
        resolved = {name: query.format(r=f"{window:g}") for name, query in RANGE_QUERIES.items()}
        ranges = {name: self._ranges(promql, end - span, end, step) for name, promql in resolved.items()}
        series: Series = {}
        for path in PATHS:
            rates = ranges["rate"].get(path, {})
            series[path] = [combine(at, rate, ranges["errors_5xx"].get(path, {}).get(at, 0.0)
                                    + ranges["failed_jobs"].get(path, {}).get(at, 0.0),
                                    ranges["p95"].get(path, {}).get(at)) for at, rate in sorted(rates.items())]
        return series
