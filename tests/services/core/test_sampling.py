"""The default sampler: writes and continued traces kept, reads limited per second with their weight."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from services.core.sampling import SAMPLE_RATE, ReadRateSampler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def read(sampler: ReadRateSampler, parent: object = None, method: str = "GET") -> Decision:
    return sampler.should_sample(parent, 1, method, SpanKind.SERVER, {"http.request.method": method}).decision


def parent_context(sampled: bool) -> object:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return trace.set_span_in_context(NonRecordingSpan(SpanContext(5, 7, True, flags)))


def test_reads_are_kept_up_to_the_rate_and_refill_with_time() -> None:
    clock = Clock()
    sampler = ReadRateSampler(2, clock=clock)
    decisions = [read(sampler) for _ in range(5)]
    assert decisions.count(Decision.RECORD_AND_SAMPLE) == 2 and decisions[2:] == [Decision.DROP] * 3
    clock.now += 0.5  # half a second: one token
    assert [read(sampler) for _ in range(2)] == [Decision.RECORD_AND_SAMPLE, Decision.DROP]


def test_writes_and_roots_that_are_not_requests_are_always_kept() -> None:
    sampler = ReadRateSampler(0, clock=Clock())
    assert read(sampler) is Decision.DROP
    assert all(read(sampler, method="POST") is Decision.RECORD_AND_SAMPLE for _ in range(50))
    consumer = sampler.should_sample(None, 1, "plan_refresh", SpanKind.CONSUMER, {})
    assert consumer.decision is Decision.RECORD_AND_SAMPLE


def test_a_span_with_a_parent_follows_the_parents_decision_whatever_the_bucket_holds() -> None:
    sampler = ReadRateSampler(0, clock=Clock())
    assert read(sampler, parent_context(sampled=True)) is Decision.RECORD_AND_SAMPLE
    assert read(sampler, parent_context(sampled=False)) is Decision.DROP
    assert sampler.should_sample(parent_context(False), 1, "POST", SpanKind.SERVER,
                                 {"http.request.method": "POST"}).decision is Decision.DROP


def test_a_kept_read_carries_the_percentage_of_reads_kept_recently() -> None:
    clock = Clock()
    sampler = ReadRateSampler(1, clock=clock)
    first = sampler.should_sample(None, 1, "GET", SpanKind.SERVER, {"http.request.method": "GET"})
    assert first.attributes[SAMPLE_RATE] == 100.0
    for _ in range(3):  # refused before the SDK is asked: counted as seen all the same
        assert not sampler.admits_read()
    clock.now += 1.0
    assert sampler.admits_read()
    kept = sampler.should_sample(None, 1, "GET", SpanKind.SERVER, {"http.request.method": "GET", "a": 1})
    # 2 kept of 5 seen over this and the last second: each kept read stands for 2.5 requests
    assert kept.attributes[SAMPLE_RATE] == 40.0 and kept.attributes["a"] == 1
    clock.now += 10  # an idle spell forgets the old windows
    assert sampler.should_sample(None, 1, "GET", SpanKind.SERVER,
                                 {"http.request.method": "GET"}).attributes[SAMPLE_RATE] == 100.0


def test_admits_read_does_not_spend_the_token() -> None:
    sampler = ReadRateSampler(1, clock=Clock())
    assert sampler.admits_read() and sampler.admits_read()
    assert read(sampler) is Decision.RECORD_AND_SAMPLE and not sampler.admits_read()
