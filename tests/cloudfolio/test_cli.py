"""The ``cloudfolio`` command line, run as a real process."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from rollout.stores import FileFlagStore
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.sources.local import LocalSource, sample_portfolio_root

FLAG_SEEDS = {"QUEUE_TRAFFIC_PCT", "ENABLE_QUEUE_SHADOW", "SHADOW_SAMPLE_PCT", "ROLLOUT_STICKINESS", "ROLLOUT_LOCK"}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cloudfolio", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.mark.parametrize("command", [
    [], ["serve"], ["legacy"], ["refresh"], ["worker"], ["queues"], ["dlq"], ["dlq", "replay"], ["train"],
    ["config"], ["rollout"], ["rollout", "status"], ["rollout", "set"], ["rollout", "shadow"],
    ["rollout", "rollback"], ["rollout", "reenable"], ["rollout", "watch"], ["dev-github"], ["usage"],
])
def test_help_explains_each_command(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: cloudfolio" in result.stdout and len(result.stdout) > 200


def test_refresh_builds_the_sample_bundle_and_prints_its_fingerprint(tmp_path: Path) -> None:
    source = LocalSource(sample_portfolio_root())
    expected = bundle_fingerprint(metadata_fingerprint(r) for r in source.list_repos("yungryce"))
    result = run_cli("refresh", "yungryce", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"bundle fingerprint: {expected}" in result.stdout
    assert "repos: 16 (16 synced, 0 failed)" in result.stdout
    assert "syncing yungryce" in result.stderr, "a progress bar is shown"
    again = run_cli("refresh", "yungryce", "--data-dir", str(tmp_path), "--quiet")
    assert "up to date, nothing synced" in again.stdout and expected in again.stdout


def test_invalid_configuration_names_the_variable_and_exits_2(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), env={"CLOUDFOLIO_STORAGE": "s3"})
    assert result.returncode == 2
    assert "CLOUDFOLIO_STORAGE" in result.stderr and "Traceback" not in result.stderr


def test_invalid_username_exits_2() -> None:
    result = run_cli("refresh", "../etc")
    assert result.returncode == 2 and "invalid username" in result.stderr


def test_usage_lists_users_against_the_quotas_and_refuses_bad_names(tmp_path: Path) -> None:
    from services.core.keys import Namespace
    from services.core.storage.local import LocalBackend
    from services.core.usage import UsageStore

    store = UsageStore(LocalBackend(tmp_path / "storage"))
    for _ in range(41):
        store.count_refresh("octocat")
    store.add_github_requests("yungryce", 900)
    store.record_cache_bytes("yungryce", Namespace.LIVE, 3 * 2**20)
    env = {"CLOUDFOLIO_DATA_DIR": str(tmp_path)}
    listing = run_cli("usage", env=env)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert "not enforced" in lines[0] and "2 users: 1 under, 1 near (80 %), 0 at a quota" in lines[1]
    assert lines[3].split()[:2] == ["yungryce", "under"] and lines[3].endswith("3.0 MiB"), "biggest spender first"
    assert lines[4].split()[:3] == ["octocat", "near", "41"]
    one = run_cli("usage", "octocat", "--json", env=env)
    assert one.returncode == 0 and '"refreshes": 41' in one.stdout
    bad = run_cli("usage", "../x", env=env)
    assert bad.returncode == 2 and "invalid username" in bad.stderr and "Traceback" not in bad.stderr


def test_usage_with_storage_unreachable_is_exit_3_within_seconds() -> None:
    env = {"CLOUDFOLIO_STORAGE": "azure", "CLOUDFOLIO_STORAGE_TIMEOUT": "1", "CLOUDFOLIO_STORAGE_RETRIES": "0",
           "CLOUDFOLIO_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
           "AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:" f"{free_port()}/devstoreaccount1;"}
    result = run_cli("usage", env=env, timeout=30)
    assert result.returncode == 3 and "storage is unavailable" in result.stderr, result.stderr
    assert "a2V5" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_unknown_user_is_a_clear_failure(tmp_path: Path) -> None:
    result = run_cli("refresh", "nobody", "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "unknown GitHub user 'nobody'" in result.stderr
    assert "sample_portfolio" not in result.stderr, "no server path in the reason"


def test_config_masks_secrets() -> None:
    result = run_cli("config", env={"GITHUB_TOKEN": "ghp_supersecret"})
    assert result.returncode == 0 and "ghp_supersecret" not in result.stdout
    assert "GITHUB_TOKEN" in result.stdout and "****" in result.stdout


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[tuple[str, list[str]]]:
    """``cloudfolio serve`` on a free port until the block ends; yields its URL and, afterwards, its stderr."""
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_") and k not in FLAG_SEEDS}
    process = subprocess.Popen([sys.executable, "-m", "cloudfolio", "serve", "--port", str(port), "--data-dir",
                                str(data_dir)], env={**full, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"

        def answering() -> httpx.Response | None:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                return httpx.get(f"{base}/health", timeout=1)
            except httpx.TransportError:
                return None

        assert wait_until(answering, 20, lambda: "serve did not start", interval=0.1).status_code == 200
        yield base, output
    finally:
        process.terminate()
        process.wait(timeout=20)
        output.append(process.stderr.read().decode() if process.stderr else "")
        output.append(str(process.returncode))


def test_serve_answers_http_on_the_embedded_default(tmp_path: Path) -> None:
    assert run_cli("refresh", "octocat", "--data-dir", str(tmp_path), "-q").returncode == 0
    # octocat reads the bundle the queue path (`refresh`) built
    with serving(tmp_path, QUEUE_TRAFFIC_PCT="100") as (base, output):
        bundle = httpx.get(f"{base}/bundles/octocat", timeout=5)
        assert bundle.status_code == 200 and len(bundle.json()["data"]) == 3
        assert bundle.json()["path"] == "queue"
        ready = httpx.get(f"{base}/ready", timeout=10).json()
        assert ready["checks"] == {"storage": "ok", "broker": "ok", "flags": "ok", "legacy": "ok"}, ready
    log, returncode = output
    assert "in-process workers" in log, log
    # the C event loop and HTTP parser are dependencies, so the installed router runs on them
    assert "HTTP: uvicorn on uvloop + httptools, writes gathered per answer" in log, log
    assert "flags in force (file store): 100 % of users on the queue path, shadow off, sticky, unlocked" in log
    # uvicorn finishes its shutdown, then re-raises SIGTERM so the exit status tells how it ended
    assert returncode in ("0", "-15") and "Traceback" not in log, log
    assert "Worker has been shut down" in log and "Application shutdown complete" in log, log


def test_serve_says_which_flags_win_when_a_seed_is_ignored(tmp_path: Path) -> None:
    FileFlagStore(tmp_path / "flags.json", seed={"QUEUE-TRAFFIC-PCT": "0"})  # an earlier run's flag file
    with serving(tmp_path, QUEUE_TRAFFIC_PCT="100", ENABLE_QUEUE_SHADOW="true") as (base, output):
        assert httpx.post(f"{base}/bundles/octocat/refresh", timeout=30).json()["path"] == "legacy"
    log = output[0]
    assert "flags in force (file store): 0 % of users on the queue path, shadow off" in log, log
    assert "QUEUE_TRAFFIC_PCT=100 is set but the file store holds QUEUE-TRAFFIC-PCT=0: the store wins" in log
    assert "cloudfolio rollout set 100 --reason" in log
    assert "ENABLE_QUEUE_SHADOW=true is set but the file store holds ENABLE-QUEUE-SHADOW=(unset)" in log


def test_worker_train_role_needs_a_broker() -> None:
    result = run_cli("worker", "train")
    assert result.returncode == 2 and "CLOUDFOLIO_BROKER_URL" in result.stderr


def test_worker_rejects_unknown_roles() -> None:
    result = run_cli("worker", "bogus")
    assert result.returncode == 2 and "unknown worker role" in result.stderr


def test_dev_github_serves_the_sample_portfolio_as_github_does() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    process = subprocess.Popen([sys.executable, "-m", "cloudfolio", "dev-github", "--port", str(port),
                                "--generate", "gen-user:3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"

        def listing() -> httpx.Response | None:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                return httpx.get(f"{base}/users/octocat/repos", timeout=1)
            except httpx.TransportError:
                return None

        answer = wait_until(listing, 20, lambda: "dev-github did not start", interval=0.1)
        assert answer.status_code == 200 and len(answer.json()) == 3 and answer.headers["etag"]
        again = httpx.get(f"{base}/users/octocat/repos", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
        assert len(httpx.get(f"{base}/users/gen-user/repos").json()) == 3
    finally:
        process.terminate()
        process.wait(timeout=10)


DOWN = {"CLOUDFOLIO_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}  # nothing listens on port 1


@pytest.mark.parametrize("command", [["queues"], ["dlq", "replay", "github-sync"], ["refresh", "yungryce"]])
def test_an_unreachable_broker_is_exit_3_and_one_clear_line(command: list[str], tmp_path: Path) -> None:
    result = run_cli(*command, "--data-dir", str(tmp_path), env=DOWN) if command[0] == "refresh" else \
        run_cli(*command, env=DOWN)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("job ")]
    assert result.returncode == 3, result.stderr
    assert lines == [lines[0]] and lines[0].startswith("cloudfolio: the queue broker is unavailable"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_gives_up_on_an_unreachable_broker_at_start_with_exit_3() -> None:
    result = run_cli("worker", env={**DOWN, "CLOUDFOLIO_BROKER_CONNECT_TIMEOUT": "2"}, timeout=30)
    assert result.returncode == 3 and "not reachable within 2s" in result.stderr
    assert "Traceback" not in result.stderr
    assert "CLOUDFOLIO_BROKER_CONNECT_TIMEOUT" in run_cli("worker", "--help").stdout


def test_key_vault_outages_and_a_missing_ca_file_are_exit_3_and_2() -> None:
    vault = {"CLOUDFOLIO_FLAG_STORE": "keyvault", "CLOUDFOLIO_KEYVAULT_URL": "https://127.0.0.1:9",
             "CLOUDFOLIO_KEYVAULT_STATIC_TOKEN": "t", "CLOUDFOLIO_KEYVAULT_READ_RETRIES": "0"}
    down = run_cli("rollout", "status", env=vault)
    assert down.returncode == 3 and "the flag store is unavailable" in down.stderr and "Traceback" not in down.stderr
    missing = run_cli("rollout", "status", env={**vault, "CLOUDFOLIO_KEYVAULT_CA_BUNDLE": "/no/such/ca.pem"})
    assert missing.returncode == 2 and "CLOUDFOLIO_KEYVAULT_CA_BUNDLE: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_missing_task_file_is_exit_2_and_a_clear_line() -> None:
    result = run_cli("train", "--task-file", "/no/such/task.json")
    assert result.returncode == 2 and "cannot read --task-file /no/such/task.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_output_cut_short_by_the_reader_is_no_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    # `true` exits without reading: every write of ours meets a closed pipe
    result = subprocess.run(f"{sys.executable} -m cloudfolio config | true; echo ${{PIPESTATUS[0]}}", shell=True,
                            executable="/bin/bash", capture_output=True, text=True, env=env, timeout=30)
    assert result.stderr == "" and result.stdout.strip() == "0", result.stderr


def test_serve_falls_back_to_asyncio_and_h11_when_the_c_pair_does_not_import(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudfolio.cli import serve

    assert serve.server_stack() == ("uvloop", "httptools")  # both are dependencies
    real = importlib.import_module

    def broken(name: str, *args: object) -> object:
        if name in ("uvloop", "httptools"):
            raise ImportError(f"{name}: a wheel that does not load here")
        return real(name, *args)

    monkeypatch.setattr(serve.importlib, "import_module", broken)
    assert serve.server_stack() == ("asyncio", "h11")


def test_serve_runs_uvicorn_with_an_answers_writes_gathered() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from cloudfolio.cli import serve
    from services.core.settings import Settings

    options = serve.server_options(Settings.from_env({}), 8123, *serve.server_stack())
    assert options["loop"] == "uvloop" and options["port"] == 8123
    # the class gathered_protocol makes, whose behaviour tests/cloudfolio/test_http_writes.py checks on sockets
    assert issubclass(options["http"], HttpToolsProtocol)
    assert options["http"].__name__ == "GatheredHttpToolsProtocol"
