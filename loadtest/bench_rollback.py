"""Time from an injected failure to traffic on legacy, with the Prometheus provider and the direct scrape.

``python -m loadtest.bench_rollback`` starts the GitHub double, the legacy replica and two router
replicas (each with in-process queue workers) on loopback, and a real Prometheus scraping both
routers every second. For each provider it starts the plan at 10 % (window 8 s, long dwell: no
promotion), runs front-end traffic (forced refreshes, status polls), then injects a GraphQL fault
that fails every queue-path job (legacy fetches over REST and stays healthy) and evaluates the plan
every second, as ``rollout watch --interval 1`` would. It prints, side by side, the seconds from the
injection to the rollback decision and to the first refresh answered by legacy for a user who was
on the queue path. Needs the ``prometheus`` binary; exits 3 without it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cloudfolio.devserver.github import FakeGitHub, start_github_server
from cloudfolio.devserver.prometheus import PrometheusMissing, running_prometheus
from cloudfolio.devserver.replicas import router_replicas
from cloudfolio.devserver.traffic import front_end_traffic
from rollout.measure import DirectScrape, MetricsProvider
from rollout.plan import load_plan
from rollout.progression import Progression
from rollout.prometheus_provider import PrometheusProvider
from rollout.stores import FileFlagStore
from router.bucketing import choose_path
from services.core.serving import ServingPath
from services.core.settings import Settings


def _plan() -> Any:
    shipped = load_plan()
    steps = tuple(replace(s, min_dwell_seconds=3600, gates=replace(s.gates, min_requests=5, max_p95_ratio=20))
                  for s in shipped.steps)
    return replace(shipped, steps=steps, window_seconds=8, source="shipped plan, window 8 s")


def one_run(name: str, provider: MetricsProvider, store: FileFlagStore, github: FakeGitHub, routers: list[str],
            tag: str) -> dict[str, float | None]:
    healthy, fresh = ([f"rb{tag}{kind}{i:02d}" for i in range(40)] for kind in ("h", "f"))
    for user in healthy + fresh:
        github.add_generated_user(user, 2, documented=False)
    salt = Settings.from_env({}).rollout_salt
    on_queue = {u for u in fresh if choose_path(u, 10, salt=salt)[0] is ServingPath.QUEUE}
    progression = Progression(store, _plan(), provider)
    progression.start(actor="bench", reason=f"time to legacy, {name}")
    moved: list[float] = []

    def answered(at: float, body: dict[str, Any]) -> None:
        if body.get("username") in on_queue and body.get("path") == "legacy" and not moved:
            moved.append(at)

    with front_end_traffic(routers, healthy, force=True):
        time.sleep(10)  # healthy evidence first
    assert progression.evaluate().action != "rolled_back", "rolled back before the fault"
    # users never synced fail outright when every GraphQL call fails (no earlier records to merge)
    fault = github.inject("^/graphql$", "status", status=502, times=None)
    injected, decided = time.monotonic(), None
    try:
        with front_end_traffic(routers, fresh, force=True, answers=answered):
            while time.monotonic() - injected < 90 and (decided is None or not moved):
                if decided is None and progression.evaluate().action == "rolled_back":
                    decided = time.monotonic()
                time.sleep(1)
    finally:
        with github.lock:
            github.faults.remove(fault)
    return {"decision_s": None if decided is None else round(decided - injected, 1),
            "legacy_s": round(moved[0] - injected, 1) if moved else None}


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m loadtest.bench_rollback", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    if shutil.which("prometheus") is None:
        print("prometheus is not installed (apt-get install prometheus)", file=sys.stderr)
        return 3
    data = Path(tempfile.mkdtemp(prefix="cf-rollback-"))
    state, server = start_github_server(FakeGitHub())
    results: dict[str, dict[str, float | None]] = {}
    try:
        with router_replicas(server.url, data / "shared") as replicas, \
                running_prometheus(replicas.targets, data / "prometheus") as prometheus:
            store = FileFlagStore(replicas.flags)
            for name, provider in (("prometheus", PrometheusProvider(prometheus.url)),
                                   ("direct scrape", DirectScrape([f"{u}/metrics" for u in replicas.urls]))):
                store.write({"ROLLOUT-LOCK": ""}, actor="bench", reason="next run")
                results[name] = one_run(name, provider, store, state, replicas.urls, name[:2])
                print(f"{name}: {results[name]}", flush=True)
    except PrometheusMissing as exc:
        print(str(exc), file=sys.stderr)
        return 3
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    print("\n| provider | injection to rollback decision s | injection to first queue-path user served by legacy s |")
    print("| --- | --- | --- |")
    for name, figures in results.items():
        print(f"| {name} | {figures['decision_s']} | {figures['legacy_s']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
