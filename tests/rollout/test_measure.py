"""DirectScrape: both paths' evidence from the routers' real /metrics, differenced over the window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloudfolio.devserver.threaded import ServerThread
from rollout.measure import REFRESH_ROUTE, DirectScrape, MetricsUnavailable, quantile
from router.metrics import RouterMetrics
from tests.support.clocks import ManualClock


class Replica:
    """A router's metrics served over HTTP, as the router serves them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = RouterMetrics(self.registry)

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type="text/plain")

        self.server = ServerThread(Starlette(routes=[Route("/metrics", metrics)]))


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started = [Replica(), Replica()]
    for replica in started:
        replica.server.start()
    yield started
    for replica in started:
        replica.server.stop()


def traffic(replica: Replica, path: str, ok: int, failed: int, seconds: float) -> None:
    for _ in range(ok):
        replica.metrics.observe(REFRESH_ROUTE, path, 202, seconds)
    for _ in range(failed):
        replica.metrics.observe(REFRESH_ROUTE, path, 503, seconds)


def test_quantile_interpolates_within_the_bucket_as_histogram_quantile() -> None:
    assert quantile([(0.1, 50), (0.2, 100), (float("inf"), 100)], 0.95) == pytest.approx(0.19)
    assert quantile([(0.1, 0), (float("inf"), 0)], 0.95) is None
    assert quantile([(0.1, 10), (float("inf"), 100)], 0.95) == 0.1, "beyond the last bucket: its bound"


def test_both_paths_are_summed_over_replicas_and_differenced_over_the_window(replicas: list[Replica]) -> None:
    clock = ManualClock(1000.0)
    scrape = DirectScrape([f"{r.server.url}/metrics" for r in replicas], clock=clock)
    traffic(replicas[0], "queue", 100, 0, 0.004)  # before the window: not counted
    first = scrape.measure(60)
    assert first.queue.requests == 0, "one snapshot is no window yet"
    clock.now += 30
    traffic(replicas[0], "queue", 60, 2, 0.004)
    traffic(replicas[1], "queue", 30, 1, 0.004)
    traffic(replicas[1], "legacy", 200, 0, 0.04)
    replicas[0].metrics.jobs.labels("queue", "failed").inc(3)
    replicas[1].metrics.shadow.labels("match", "legacy").inc(8)
    replicas[1].metrics.shadow.labels("source_changed", "legacy").inc(1)
    replicas[1].metrics.shadow.labels("divergence", "legacy").inc(1)
    replicas[1].metrics.shadow.labels("timeout", "legacy").inc(5)
    m = scrape.measure(60)
    assert (m.queue.requests, m.queue.errors) == (93, 6), "5xx answers plus failed jobs"
    assert (m.legacy.requests, m.legacy.errors) == (200, 0)
    assert 0.0025 < m.queue.p95_seconds <= 0.005 and 0.025 < m.legacy.p95_seconds <= 0.05
    assert (m.comparisons, m.divergences) == (10, 1), "timeouts compare nothing"
    assert "metrics" in m.queries["scrape"]


def test_a_replica_that_cannot_be_scraped_fails_the_measurement(replicas: list[Replica]) -> None:
    scrape = DirectScrape([f"{replicas[0].server.url}/metrics", "http://scraper:s3cret@127.0.0.1:9/metrics"],
                          timeout=1)
    with pytest.raises(MetricsUnavailable, match="127.0.0.1:9") as caught:
        scrape.measure(60)
    assert "s3cret" not in str(caught.value), "a credential in a scrape URL stays on the server"


def test_a_restarted_router_starts_the_window_again(replicas: list[Replica]) -> None:
    clock = ManualClock(0.0)
    replica = replicas[0]
    scrape = DirectScrape([f"{replica.server.url}/metrics"], clock=clock)
    traffic(replica, "queue", 50, 0, 0.01)
    scrape.measure(60)
    replica.registry = CollectorRegistry()  # the process restarted: its counters are back at zero
    replica.metrics = RouterMetrics(replica.registry)
    traffic(replica, "queue", 5, 0, 0.01)
    clock.now += 10
    assert scrape.measure(60).queue.requests == 0, "no negative deltas: a new window begins"
