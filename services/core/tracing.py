"""Tracing vocabulary for every layer: span names, attribute names, and thin helpers over the
OpenTelemetry API.

Only the API is used here; which SDK provider (if any) records the spans is chosen once by the
composition root (:mod:`cloudfolio.telemetry`). Without a configured provider every helper is the
API's no-op: no span data is created and nothing is sent anywhere.

Guarantees: the attribute names below are the only ones the code sets (the Application Insights
alert and the docs read them); trace context crosses processes as W3C ``traceparent`` /
``tracestate`` through :func:`inject` and :func:`extract`; an exception leaving a :func:`span`
marks it as an error and is re-raised unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags

TRACER_NAME = "cloudfolio"

#: Attribute names (``cloudfolio.*``) set on spans; ``routing_mode`` is the router request's serving path
#: under the name the Application Insights alert queries (``customDimensions.routing_mode``).
USERNAME = "cloudfolio.username"
REPO = "cloudfolio.repo"
JOB_ID = "cloudfolio.job_id"
PATH = "cloudfolio.path"
MODE = "cloudfolio.mode"
ROUTING_MODE = "routing_mode"

#: Span names of the refresh story, router to training.
REFRESH_REQUEST = "refresh_request"
FETCH_REPO_CONTENT = "fetch_repo_content"
SAVE_TO_CACHE = "save_to_cache"
SHADOW_MIRROR = "shadow_mirror"

#: Request methods whose root spans the default sampler rate limits (services/core/sampling.py);
#: the others (writes) are always kept. Here, not there, so the router reads it without the SDK.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Keys of the W3C trace context carried in a message's options.
CONTEXT_KEYS = ("traceparent", "tracestate")

__all__ = ["CONTEXT_KEYS", "Link", "Span", "SpanKind", "annotate", "attributes", "current_ids", "extract",
           "inject", "span", "tracer", "untraced"]


#: A proxy: it follows whichever provider is installed, even one installed after this import. Looked up
#: once, since the SDK's ``get_tracer`` costs more than a span.
_TRACER = trace.get_tracer(TRACER_NAME)
_RANDOM = random.Random()
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


def installed() -> bool:
    """Whether a tracer provider is installed (hot paths skip all span work when not)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def installed_provider() -> trace.TracerProvider | None:
    """The installed tracer provider, None when there is none yet."""
    return trace.get_tracer_provider() if installed() else None


class ReadGate(Protocol):
    """A sampler that can refuse a root read before a span exists
    (:class:`services.core.sampling.ReadRateSampler`)."""

    def admits_read(self) -> bool: ...


def read_sampler(provider: trace.TracerProvider | None = None) -> ReadGate | None:
    """``provider``'s (default: the installed one's) sampler, if it is a :class:`ReadGate`.

    Looked up by its method rather than its class, so importing this module never loads the SDK."""
    sampler = getattr(provider or trace.get_tracer_provider(), "sampler", None)
    return sampler if callable(getattr(sampler, "admits_read", None)) else None


def start_unsampled() -> object:
    """Make a fresh non-recording span current (new ids, ``sampled`` off) and return the token for
    :func:`end_unsampled`: what a request whose trace is refused runs under, so its children are
    dropped with it (parent-based) and its log lines still carry an id of their own."""
    ids = SpanContext(_RANDOM.getrandbits(128) or 1, _RANDOM.getrandbits(64) or 1, False, _NOT_SAMPLED)
    return otel_context.attach(trace.set_span_in_context(NonRecordingSpan(ids)))


def end_unsampled(token: object) -> None:
    """Restore the context :func:`start_unsampled` replaced."""
    otel_context.detach(token)  # type: ignore[arg-type]


def tracer(provider: trace.TracerProvider | None = None) -> trace.Tracer:
    """The project's tracer from ``provider``, or from whichever is installed (the API's no-op when none)."""
    return _TRACER if provider is None else provider.get_tracer(TRACER_NAME)


def attributes(*, username: str | None = None, repo: str | None = None, job_id: str | None = None,
               path: str | None = None, mode: str | None = None) -> dict[str, str]:
    """The ``cloudfolio.*`` attributes for the values given (``None`` left out)."""
    values = {USERNAME: username, REPO: repo, JOB_ID: job_id, PATH: path, MODE: mode}
    return {name: str(value) for name, value in values.items() if value is not None}


def untraced(context: otel_context.Context | None = None) -> Span | None:
    """The span the API's no-op tracer would start in ``context`` (default: the current one) when no
    provider is installed, so that hot paths skip all span work; None when spans may record.

    That is the context's own span when it does not record. (A recording span can be current without
    an installed provider where a provider is passed in directly; the no-op tracer would not hand that
    one out, so then the answer is None too.)"""
    if installed():
        return None
    current = trace.get_current_span(context)
    return current if isinstance(current, NonRecordingSpan) else None


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, links: list[Link] | None = None,
         context: otel_context.Context | None = None, **values: str | None) -> Iterator[Span]:
    """A span made current for the block, with the ``cloudfolio.*`` attributes of ``values``
    (``username``, ``repo``, ``job_id``, ``path``, ``mode``); an exception marks it failed.

    Without ``context``, where :func:`untraced` finds no span work to do, the block runs under the
    current span without building the attributes or changing the context."""
    if context is None and (current := untraced()) is not None:
        yield current
        return
    with tracer().start_as_current_span(name, context=context, kind=kind, links=links,
                                        attributes=attributes(**values), record_exception=False,
                                        set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            fail(current, exc)
            raise


def fail(current: Span, exc: BaseException) -> None:
    """Mark ``current`` failed by ``exc`` (type and message only: no traceback, no local values)."""
    if current.is_recording():
        current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:200]))
        current.set_attribute("exception.type", type(exc).__name__)


def annotate(**values: str | None) -> None:
    """Add ``cloudfolio.*`` attributes to the current span (nothing when none records)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(attributes(**values))


def inject(carrier: MutableMapping[str, Any], context: otel_context.Context | None = None) -> None:
    """Write the current (or ``context``'s) W3C trace context into ``carrier``."""
    propagate.inject(carrier, context=context)


def extract(carrier: Mapping[str, Any]) -> otel_context.Context:
    """The trace context carried in ``carrier`` (an empty context when there is none)."""
    return propagate.extract({k: v for k, v in carrier.items() if k in CONTEXT_KEYS and isinstance(v, str)})


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current span as lowercase hex, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def link_to_current() -> list[Link]:
    """A link to the current span, for work that belongs to it but is not its child (shadow mirrors)."""
    context = trace.get_current_span().get_span_context()
    return [Link(context)] if context.is_valid else []
