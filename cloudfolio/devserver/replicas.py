"""Router replicas behind one store: the legacy replica and N ``cloudfolio serve`` processes on loopback.

For the rollout's end-to-end tests and benchmarks: the routers share one data folder (storage and
the flag file), each runs its queue workers in-process, every user may be refreshed without rate
limits, and the queue path fetches documents by GraphQL while legacy uses REST, so a GraphQL fault
on the GitHub double fails the queue path only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cloudfolio.devserver.processes import QueueEnv, ServiceProcess
from cloudfolio.devserver.threaded import free_port


@dataclass
class Replicas:
    routers: list[ServiceProcess]
    flags: Path  # the flag file every router reads

    @property
    def urls(self) -> list[str]:
        return [router.url for router in self.routers]

    @property
    def targets(self) -> list[str]:
        """``host:port`` of each router, for a Prometheus scrape configuration."""
        return [f"127.0.0.1:{router.port}" for router in self.routers]


@contextmanager
def router_replicas(github_url: str, data: Path, count: int = 2) -> Iterator[Replicas]:
    legacy_port = free_port()
    env = QueueEnv(data, github_url, extra={
        "CLOUDFOLIO_LEGACY_URL": f"http://127.0.0.1:{legacy_port}", "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false",
        "CLOUDFOLIO_FLAG_TTL": "1", "CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT": "0",
        "CLOUDFOLIO_REFRESH_LIMIT_PER_USER": "0", "CLOUDFOLIO_LOG_LEVEL": "warning",
        "ENABLE_GRAPHQL_BATCH_FETCH": "true"})
    started: list[ServiceProcess] = []
    try:
        started.append(ServiceProcess(env, "legacy", port=legacy_port, ready_path="/api/health"))
        routers = [ServiceProcess(env, "serve", port=free_port(), ready_path="/health") for _ in range(count)]
        started += routers
        yield Replicas(routers, data / "flags.json")
    finally:
        for process in reversed(started):
            process.stop()
