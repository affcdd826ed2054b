"""tracing.span without an installed provider behaves as the API's no-op tracer, cheaply."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.core import tracing


@pytest.fixture(autouse=True)
def _no_installed_provider() -> None:
    assert not tracing.installed(), "these tests describe a process without a tracer provider"


def test_a_span_inside_a_recording_span_of_a_provider_passed_in_does_not_record_into_it() -> None:
    # what the no-op tracer starts there: a non-recording span with the parent's ids
    provider = TracerProvider()
    with provider.get_tracer("test").start_as_current_span("request") as parent:
        with tracing.span("inner", username="octocat") as inner:
            assert not inner.is_recording()
            assert inner.get_span_context() == parent.get_span_context()
            assert trace.get_current_span().get_span_context() == parent.get_span_context()
        assert trace.get_current_span() is parent
    assert not parent.attributes or tracing.USERNAME not in parent.attributes


def test_a_span_without_a_provider_runs_under_the_current_span_and_passes_exceptions_on() -> None:
    before = trace.get_current_span()
    with pytest.raises(KeyError), tracing.span("inner", repo="r") as inner:
        assert inner is before and not inner.is_recording()
        raise KeyError("x")
    assert trace.get_current_span() is before
