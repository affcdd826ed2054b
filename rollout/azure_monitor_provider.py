"""The rollout's evidence from Azure Monitor Logs: KQL over the routers' request telemetry, so an
Azure deployment needs no Prometheus.

Each measurement runs two queries against the Application Insights resource through
``azure-monitor-query`` (``LogsQueryClient.query_resource``, the Log Analytics query API, with
``DefaultAzureCredential`` by default):

- ``requests`` rows of the routers (docs/OBSERVABILITY.md): per ``customDimensions.routing_mode``,
  the count, the 5xx count (the alert's status semantics) and the p95 of the refresh answer's
  ``duration`` (milliseconds); counts sum ``itemCount``, so rows kept by the read sampler
  (:mod:`services.core.sampling`) stand for every request they represent;
- the ``shadow_mirror`` spans (``dependencies`` rows) by ``customDimensions["cloudfolio.shadow_verdict"]``.

:meth:`AzureMonitorProvider.series` answers the dashboard's charts with :data:`SERIES_KQL`: the
same rows binned by ``step`` seconds (an interval without rows has no point).

Failed jobs are not request telemetry: with this provider the error rate counts 5xx answers only
(the Prometheus and direct providers add failed jobs). An unreachable service, a refused query or
a partial result raise :class:`~rollout.measure.MetricsUnavailable`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rollout.analysis import Measurements, PathWindow
from rollout.measure import COMPARED, PATHS, REFRESH_ROUTE, MetricsProvider, MetricsUnavailable
from rollout.series import Series, combine

REQUESTS_KQL = f"""requests
| extend path = tostring(customDimensions.routing_mode)
| where path in ("queue", "legacy")
| summarize requests = sum(itemCount), errors = sumif(itemCount, toint(resultCode) >= 500),
    p95_ms = percentileif(duration, 95, name == "POST {REFRESH_ROUTE}") by path"""

#: ``{step}`` is the bin in seconds; ``at`` is the bin's start in unix seconds.
SERIES_KQL = """requests
| extend path = tostring(customDimensions.routing_mode)
| where path in ("queue", "legacy")
| summarize requests = sum(itemCount), errors = sumif(itemCount, toint(resultCode) >= 500),
    p95_ms = percentile(duration, 95) by path, bin_at = bin(timestamp, {step}s)
| extend at = (bin_at - datetime(1970-01-01)) / 1s
| project at, path, requests, errors, p95_ms
| order by at asc"""

SHADOW_KQL = f"""dependencies
| where name == "shadow_mirror"
| extend verdict = tostring(customDimensions["cloudfolio.shadow_verdict"])
| summarize comparisons = sumif(itemCount, verdict in ({", ".join(f'"{v}"' for v in COMPARED)})),
    divergences = sumif(itemCount, verdict == "divergence")"""


class AzureMonitorProvider(MetricsProvider):
    """Measurements from Application Insights.

    Parameters:
      resource_id(str): the Application Insights component's resource ID.
      client(LogsQueryClient | None): a configured client (tests); default one with
        ``DefaultAzureCredential`` on ``endpoint``.
      endpoint(str): the Log Analytics query endpoint. Defaults to ``https://api.loganalytics.io``.
    """

    name = "azure-monitor"

    def __init__(self, resource_id: str, client: Any = None, endpoint: str = "https://api.loganalytics.io") -> None:
        self.resource_id = resource_id
        if client is None:
            from azure.identity import DefaultAzureCredential
            from azure.monitor.query import LogsQueryClient

            client = LogsQueryClient(DefaultAzureCredential(), endpoint=endpoint)
        self.client = client

    def _rows(self, query: str, window_seconds: float) -> list[dict[str, Any]]:
        from azure.core.exceptions import AzureError
        from azure.monitor.query import LogsQueryStatus

        try:
            result = self.client.query_resource(self.resource_id, query, timespan=timedelta(seconds=window_seconds))
        except AzureError as exc:
            raise MetricsUnavailable(f"Azure Monitor query failed: {type(exc).__name__}: {exc}") from exc
        if result.status != LogsQueryStatus.SUCCESS:
            raise MetricsUnavailable(f"Azure Monitor answered a partial result: {result.partial_error}")
        if not result.tables:
            return []
        table = result.tables[0]
        return [dict(zip(table.columns, row, strict=False)) for row in table.rows]

    def measure(self, window_seconds: float) -> Measurements:
        by_path = {str(row.get("path")): row for row in self._rows(REQUESTS_KQL, window_seconds)}
        shadow = (self._rows(SHADOW_KQL, window_seconds) or [{}])[0]

        def path(name: str) -> PathWindow:
            row = by_path.get(name, {})
            p95 = row.get("p95_ms")
            return PathWindow(float(row.get("requests") or 0), float(row.get("errors") or 0),
                              None if p95 is None else float(p95) / 1000)

        windows = {name: path(name) for name in PATHS}
        return Measurements(windows["queue"], windows["legacy"], float(shadow.get("comparisons") or 0),
                            float(shadow.get("divergences") or 0),
                            queries={"requests": REQUESTS_KQL, "shadow": SHADOW_KQL,
                                     "timespan": f"PT{window_seconds:g}S"})

    def series(self, span: float, step: float) -> Series:
        """Requests, 5xx ratio and p95 per path over the last ``span`` seconds, binned by ``step``."""
        series: Series = {path: [] for path in PATHS}
        for row in self._rows(SERIES_KQL.format(step=f"{step:g}"), span):
            path = str(row.get("path"))
            if path not in series or row.get("at") is None:
                continue
            p95 = row.get("p95_ms")
            series[path].append(combine(float(row["at"]) + step, float(row.get("requests") or 0) / step,
                                        float(row.get("errors") or 0) / step,
                                        None if p95 is None else float(p95) / 1000))
        return series
