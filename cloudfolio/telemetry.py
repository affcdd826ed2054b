"""Where spans and metrics go: the process's OpenTelemetry tracer and meter providers, chosen once
from settings.

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` set: spans are batched
  to that OTLP/HTTP collector (Jaeger, Tempo, the OpenTelemetry Collector...); the exporter reads
  the other standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout, compression) itself.
- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set: spans also go to Azure Monitor through the
  exporter of ``azure-monitor-opentelemetry`` (the router's ``SERVER`` spans become ``requests``
  rows, their attributes ``customDimensions``). The distro's ``configure_azure_monitor`` is not
  used: it instruments HTTP libraries globally with full URLs, and ours must be redacted.
- the operational metrics of :mod:`services.core.observations` go to the same places: OTLP/HTTP
  ``/v1/metrics`` (or ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``) and Azure Monitor (``customMetrics``),
  every ``OTEL_METRIC_EXPORT_INTERVAL`` milliseconds (the SDK's setting, default 60000). Prometheus
  ``/metrics`` keeps serving them either way.
- neither: nothing is installed. The OpenTelemetry API stays a no-op: no span data is created and
  nothing is sent anywhere.

When a provider is installed, outgoing httpx calls (GitHub, the legacy app, Key Vault's double)
get ``CLIENT`` spans that carry the trace on to the callee, with credentials in query strings
redacted in ``url.full`` / ``http.url``, and Azure SDK calls (Blob storage, Key Vault) their own
spans. Sampling follows ``OTEL_TRACES_SAMPLER`` when it is set; otherwise every write and every
continued trace is kept and reads are limited to ``CLOUDFOLIO_TRACED_READS_PER_SECOND``
(:mod:`services.core.sampling`).
"""

from __future__ import annotations

import logging
from typing import Any

from services.core.redaction import redact_text
from services.core.settings import Settings

log = logging.getLogger("cloudfolio.telemetry")

#: URL attributes of the httpx instrumentation (old and stable semantic conventions) that are redacted.
URL_ATTRIBUTES = ("http.url", "url.full")

_configured: list[Any] = []  # the installed providers, once per process


def exporters_of(settings: Settings) -> list[str]:
    """Which exporters the settings ask for (``otlp``, ``azure-monitor``); empty: tracing off."""
    chosen = []
    if settings.otlp_traces_endpoint or settings.otlp_endpoint or settings.otlp_metrics_endpoint:
        chosen.append("otlp")
    if settings.appinsights_connection_string:
        chosen.append("azure-monitor")
    return chosen


def sampler_of(settings: Settings) -> Any:
    """The sampler: the SDK's from ``OTEL_TRACES_SAMPLER`` when that is set, else the project's
    :class:`~services.core.sampling.ReadRateSampler` (every write, a few reads a second)."""
    if settings.otel_traces_sampler:
        return None  # TracerProvider then reads OTEL_TRACES_SAMPLER / _ARG itself
    from services.core.sampling import ReadRateSampler  # the SDK, loaded only when telemetry is on

    return ReadRateSampler(settings.traced_reads_per_second)


def configure_telemetry(settings: Settings, role: str) -> list[str]:
    """Install the tracer provider the settings ask for (once per process); return the exporters."""
    chosen = exporters_of(settings)
    if not chosen or _configured:
        return chosen
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: settings.otel_service_name or f"cloudfolio-{role}"})
    provider = TracerProvider(resource=resource, sampler=sampler_of(settings))
    if "otlp" in chosen and (settings.otlp_traces_endpoint or settings.otlp_endpoint):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_traces_endpoint or settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if "azure-monitor" in chosen:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

        exporter = AzureMonitorTraceExporter(connection_string=settings.appinsights_connection_string,
                                             disable_offline_storage=True)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured.append(provider)
    _configured.append(_install_meter_provider(settings, chosen, resource))
    _instrument_clients()
    log.info("tracing to %s as %s", " and ".join(chosen), resource.attributes.get(SERVICE_NAME))
    return chosen


def _install_meter_provider(settings: Settings, chosen: list[str], resource: Any) -> Any:
    """The operational metrics' exporters: OTLP/HTTP and Azure Monitor, each on a periodic reader."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = []
    if settings.otlp_metrics_endpoint or settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        endpoint = settings.otlp_metrics_endpoint or settings.otlp_endpoint.rstrip("/") + "/v1/metrics"
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint)))
    if "azure-monitor" in chosen:
        from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

        readers.append(PeriodicExportingMetricReader(AzureMonitorMetricExporter(
            connection_string=settings.appinsights_connection_string, disable_offline_storage=True)))
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    return provider


def redact_span_urls(span: Any, _request: Any = None, *_rest: Any) -> None:
    """httpx instrumentation hook: mask credentials (``code=``, ``sig=``, ``token=``...) in URL attributes."""
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, redact_text(value))


def _instrument_clients() -> None:
    from azure.core.settings import settings as azure_settings
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(request_hook=redact_span_urls, async_request_hook=_async_redact)
    azure_settings.tracing_implementation = "opentelemetry"


async def _async_redact(span: Any, request: Any) -> None:
    redact_span_urls(span, request)


def shutdown_telemetry() -> None:
    """Flush and stop the providers (a process's last spans and metrics are exported before it exits)."""
    for provider in _configured:
        provider.shutdown()
