"""The rollback runbook: idempotent, dry-run, locked, notified (or not), driven by real alerts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollout.alerts import ErrorRateEvaluator
from rollout.changes import FlagChanges, RolloutLocked, set_flags
from rollout.notify import WebhookNotifier
from rollout.runbook import (
    AlertNotAllowed,
    InvalidAlert,
    RollbackReason,
    check_alert_rule,
    parse_common_alert,
    reenable,
    rollback,
)
from rollout.stores import FileFlagStore
from rollout.watch import Watcher
from tests.rollout.conftest import Receiver

FIXTURES = Path(__file__).parent / "fixtures"
REASON = RollbackReason("queue_path_error_rate", 0.05, 0.02, "300s", "alert-1")


@pytest.fixture
def store(tmp_path: Path) -> FileFlagStore:
    store = FileFlagStore(tmp_path / "flags.json")
    store.write({"QUEUE-TRAFFIC-PCT": "50"}, actor="t", reason="t")
    return store


def test_rollback_flips_locks_and_notifies_once(store: FileFlagStore, receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url)
    first = rollback(store, REASON, notifier=notifier)
    assert (first.action, first.previous_percentage, first.notified) == ("rolled_back", "50", True)
    flags = store.read()
    assert flags["QUEUE-TRAFFIC-PCT"] == "0" and json.loads(flags["ROLLOUT-LOCK"])["alert_id"] == "alert-1"
    again = rollback(store, REASON, notifier=notifier)
    assert again.action == "already_rolled_back"
    assert len(receiver.received) == 1 and "rolled back" in receiver.received[0]["text"]


def test_dry_run_changes_nothing(store: FileFlagStore) -> None:
    assert rollback(store, REASON, dry_run=True).action == "would_roll_back"
    assert store.read() == {"QUEUE-TRAFFIC-PCT": "50"}


def test_a_failing_notification_never_blocks_the_flip(store: FileFlagStore) -> None:
    dead = WebhookNotifier("http://127.0.0.1:9/hook", attempts=2, backoff=0.01, timeout=0.5)
    result = rollback(store, REASON, notifier=dead)
    assert result.action == "rolled_back" and result.notified is False
    assert store.read()["QUEUE-TRAFFIC-PCT"] == "0"


def test_notifications_retry_and_speak_teams(store: FileFlagStore, receiver: Receiver) -> None:
    receiver.fail_next = 1
    assert WebhookNotifier(receiver.url, style="teams", backoff=0.01).send("title", "text") is True
    [card] = receiver.received
    assert card["@type"] == "MessageCard" and card["title"] == "title" and card["themeColor"] == "D70000"


def test_locked_rollout_refuses_a_raise_until_reenabled(store: FileFlagStore) -> None:
    rollback(store, REASON)
    with pytest.raises(RolloutLocked):
        set_flags(store, FlagChanges(percentage=10), actor="automation", reason="try")
    set_flags(store, FlagChanges(percentage=0), actor="ops", reason="lowering is fine")
    with pytest.raises(ValueError):
        reenable(store, " ", actor="ops")
    assert reenable(store, "fixed the GitHub token", actor="ops") is True
    set_flags(store, FlagChanges(percentage=10), actor="ops", reason="step 1 again")
    assert store.read()["QUEUE-TRAFFIC-PCT"] == "10" and store.read()["ROLLOUT-LOCK"] == ""
    assert reenable(store, "again", actor="ops") is False


def test_a_watcher_rolls_back_even_when_already_locked_state_is_present(store: FileFlagStore) -> None:
    # scraping a router that does not exist is unknown: never healthy, never a rollback
    watcher = Watcher(store, ErrorRateEvaluator(60, 0.02, 1), ["http://127.0.0.1:9/metrics"])
    verdict, result = watcher.step()
    assert verdict.state == "unknown" and "scrape failed" in verdict.reason and result is None
    assert store.read()["QUEUE-TRAFFIC-PCT"] == "50"


def test_common_alert_schema_fired_and_resolved() -> None:
    fired = parse_common_alert(json.loads((FIXTURES / "alert-fired.json").read_text()))
    assert fired is not None and fired.metric == "ErrorRate" and fired.value == 5.3 and fired.threshold == 2.0
    assert fired.window == "PT5M" and fired.alert_id.endswith("b9569717-bc32-442f-add5-83a997729330")
    assert parse_common_alert(json.loads((FIXTURES / "alert-resolved.json").read_text())) is None


@pytest.mark.parametrize("payload", [None, [], "text", {}, {"schemaId": "Microsoft.Insights/activityLogs"},
                                     {"schemaId": "azureMonitorCommonAlertSchema", "data": {}},
                                     {"schemaId": "azureMonitorCommonAlertSchema",
                                      "data": {"essentials": {"alertId": "x", "monitorCondition": "Maybe"}}}])
def test_anything_else_is_refused(payload: object) -> None:
    with pytest.raises(InvalidAlert):
        parse_common_alert(payload)


def test_only_alerts_of_the_configured_rules_are_acted_on() -> None:
    fired = json.loads((FIXTURES / "alert-fired.json").read_text())
    check_alert_rule(fired, "*-queue-error-rate")
    check_alert_rule(fired, "other, cloudfolio-queue-error-rate")
    for allowed in ("", "cloudfolio-dead-letters", "*-shadow-mismatch"):
        with pytest.raises(AlertNotAllowed, match="cloudfolio-queue-error-rate"):
            check_alert_rule(fired, allowed)


def _cli(tmp_path: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")} | settings
    return subprocess.run([sys.executable, "-m", "cloudfolio", "rollout", *args, "--data-dir", str(tmp_path)],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)


def test_cli_rollback_from_an_alert_on_stdin_and_garbage_refused(tmp_path: Path) -> None:
    assert _cli(tmp_path, "set", "40", "--reason", "start").returncode == 0
    garbage = _cli(tmp_path, "rollback", "--alert", "-", stdin='{"hello": 1}')
    assert garbage.returncode == 2 and "not an Azure Monitor alert" in garbage.stderr
    dry = _cli(tmp_path, "rollback", "--alert", "-", "--dry-run", stdin=(FIXTURES / "alert-fired.json").read_text())
    assert json.loads(dry.stdout)["action"] == "would_roll_back"
    done = _cli(tmp_path, "rollback", "--alert", "-", stdin=(FIXTURES / "alert-fired.json").read_text())
    assert json.loads(done.stdout)["action"] == "rolled_back"
    status = json.loads(_cli(tmp_path, "status").stdout)
    assert status["flags"]["percentage"] == 0 and status["flags"]["locked"] is True
    refused = _cli(tmp_path, "set", "60", "--reason", "automatic raise")
    assert refused.returncode == 1 and "locked" in refused.stderr


def test_cli_refuses_an_alert_of_another_rule_and_changes_nothing(tmp_path: Path) -> None:
    assert _cli(tmp_path, "set", "40", "--reason", "start").returncode == 0
    foreign = _cli(tmp_path, "rollback", "--alert", "-", stdin=(FIXTURES / "alert-fired.json").read_text(),
                   CLOUDFOLIO_ALERT_RULES="prod-queue-error-rate")
    assert foreign.returncode == 2 and "not in CLOUDFOLIO_ALERT_RULES" in foreign.stderr
    assert "rollback alert refused" in foreign.stderr, "the refusal is logged"
    status = json.loads(_cli(tmp_path, "status").stdout)
    assert status["flags"]["percentage"] == 40 and status["flags"]["locked"] is False


def test_watch_once_keeps_its_samples_between_runs(store: FileFlagStore, tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from cloudfolio.devserver.threaded import ServerThread

    counters = {"requests": 0.0, "errors": 0.0}

    async def metrics(request):
        return PlainTextResponse(
            "# TYPE router_requests_total counter\n"
            f'router_requests_total{{path="queue",route="/r",status_class="2xx"}} {counters["requests"]}\n'
            f'router_requests_total{{path="queue",route="/r",status_class="5xx"}} {counters["errors"]}\n')

    server = ServerThread(Starlette(routes=[Route("/metrics", metrics)])).start()
    state = tmp_path / "alert-state.json"
    try:
        def once() -> str:  # a fresh Watcher per run, as cron starts a fresh process
            watcher = Watcher(store, ErrorRateEvaluator(3600, 0.02, 10), [f"{server.url}/metrics"], state_path=state)
            verdict, _result = watcher.step()
            return verdict.state

        assert once() == "unknown"
        counters["requests"], counters["errors"] = 100, 10
        assert once() == "unhealthy", "the first run's sample was kept in the state file"
        assert store.read()["QUEUE-TRAFFIC-PCT"] == "0"
    finally:
        server.stop()


class RecordingStop:
    """A stop event that records the waits asked of it and never blocks."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return False

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


def test_watch_waits_between_evaluations_but_not_after_the_last(store: FileFlagStore) -> None:
    watcher = Watcher(store, ErrorRateEvaluator(60, 0.02, 1), ["http://127.0.0.1:9/metrics"])
    reports, stop = [], RecordingStop()
    watcher.run(60, stop, lambda verdict, result: reports.append(verdict.state), iterations=1)
    assert reports == ["unknown"] and stop.waits == [], "--once exits right after its evaluation"
    watcher.run(60, stop, lambda verdict, result: reports.append(verdict.state), iterations=3)
    assert len(reports) == 4 and stop.waits == [60, 60]
