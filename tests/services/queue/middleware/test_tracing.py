"""Tracing: messages carry the sender's trace; each actor run is a span of it; retries stay in it."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.queue.middleware.tracing import Tracing
from tests.services.queue.middleware.conftest import run_one


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def traced(provider: TracerProvider) -> Iterator[StubBroker]:
    broker = StubBroker(middleware=[Tracing(provider), Retries(max_retries=0, min_backoff=10, max_backoff=20)])
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def test_a_message_continues_the_senders_trace_and_what_the_actor_sends_is_its_child(
        traced: StubBroker, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    def merge_bundle(job_id: str, username: str, mode: str) -> None:
        pass

    def sync_repo(job_id: str, username: str, repo: dict, mode: str) -> None:
        merge.send(job_id, username, mode)

    merge = dramatiq.Actor(merge_bundle, broker=traced, actor_name="merge_bundle", queue_name="m", priority=0,
                           options={})
    sync = dramatiq.Actor(sync_repo, broker=traced, actor_name="sync_repo", queue_name="s", priority=0, options={})
    with provider.get_tracer("test").start_as_current_span("refresh_request") as root:
        message = sync.send("j" * 32, "octocat", {"name": "Hello-World"}, "live")
    assert message.options["traceparent"].split("-")[1] == f"{root.get_span_context().trace_id:032x}"
    worker = dramatiq.Worker(traced, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        traced.join("s", fail_fast=True)
        traced.join("m", fail_fast=True)
        worker.join()
    finally:
        worker.stop()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"refresh_request", "sync_repo", "merge_bundle"}
    trace_ids = {s.context.trace_id for s in spans.values()}
    assert len(trace_ids) == 1
    assert spans["sync_repo"].parent.span_id == root.get_span_context().span_id
    assert spans["merge_bundle"].parent.span_id == spans["sync_repo"].context.span_id
    assert spans["sync_repo"].kind is SpanKind.CONSUMER
    attributes = dict(spans["sync_repo"].attributes or {})
    assert attributes["cloudfolio.repo"] == "Hello-World" and attributes["cloudfolio.job_id"] == "j" * 32
    assert attributes["cloudfolio.username"] == "octocat" and attributes["cloudfolio.mode"] == "live"
    assert attributes["messaging.destination.name"] == "s" and attributes["cloudfolio.retries"] == 0


def test_a_retried_message_is_a_new_span_under_the_same_parent_and_the_failure_is_marked(
        traced: StubBroker, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    calls = []

    def flaky(job_id: str) -> None:
        calls.append(job_id)
        if len(calls) == 1:
            raise RuntimeError("GitHub said 502")

    actor = dramatiq.Actor(flaky, broker=traced, actor_name="plan_refresh", queue_name="p", priority=0,
                           options={"max_retries": 1})
    with provider.get_tracer("test").start_as_current_span("refresh_request") as root:
        run_one(traced, actor, "k" * 32)
    runs = sorted((s for s in exporter.get_finished_spans() if s.name == "plan_refresh"),
                  key=lambda s: s.attributes["cloudfolio.retries"])
    assert len(runs) == 2 and len(calls) == 2
    assert {s.parent.span_id for s in runs} == {root.get_span_context().span_id}
    assert runs[0].context.span_id != runs[1].context.span_id
    assert runs[0].status.status_code is StatusCode.ERROR and "GitHub said 502" in runs[0].status.description
    assert runs[1].status.status_code is StatusCode.UNSET


def test_without_a_provider_nothing_is_recorded_and_messages_carry_no_context() -> None:
    broker = StubBroker(middleware=[Tracing()])
    broker.emit_after("process_boot")
    try:
        actor = dramatiq.Actor(lambda: None, broker=broker, actor_name="noop", queue_name="n", priority=0, options={})
        message = actor.send()
        assert "traceparent" not in message.options
    finally:
        broker.close()


def test_without_a_provider_a_carried_trace_still_reaches_what_the_actor_sends() -> None:
    # a worker without a provider sits between processes that record: the trace must not break there
    broker = StubBroker(middleware=[Tracing()])
    broker.emit_after("process_boot")
    carried = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent: list[dramatiq.Message] = []
    try:
        inner = dramatiq.Actor(lambda: None, broker=broker, actor_name="inner", queue_name="i", priority=0,
                               options={})
        outer = dramatiq.Actor(lambda: sent.append(inner.send()), broker=broker, actor_name="outer",
                               queue_name="o", priority=0, options={})
        broker.enqueue(outer.message_with_options(traceparent=carried))
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            broker.join("o", fail_fast=True)
        finally:
            worker.stop()
        assert [message.options.get("traceparent") for message in sent] == [carried]
    finally:
        broker.close()
