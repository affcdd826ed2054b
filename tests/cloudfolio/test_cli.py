"""The ``cloudfolio`` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from services.core.fingerprints import bundle_fingerprint, metadata_fingerprint
from services.core.sources.local import LocalSource, sample_portfolio_root


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cloudfolio", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.mark.parametrize("command", [
    [], ["serve"], ["legacy"], ["refresh"], ["worker"], ["queues"], ["dlq"], ["dlq", "replay"], ["train"],
    ["config"], ["rollout"], ["rollout", "status"], ["rollout", "set"], ["rollout", "shadow"],
    ["rollout", "rollback"], ["rollout", "reenable"], ["rollout", "watch"], ["dev-github"],
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


def test_unknown_user_is_a_clear_failure(tmp_path: Path) -> None:
    result = run_cli("refresh", "nobody", "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "UserNotFound" in result.stderr


def test_config_masks_secrets() -> None:
    result = run_cli("config", env={"GITHUB_TOKEN": "ghp_supersecret"})
    assert result.returncode == 0 and "ghp_supersecret" not in result.stdout
    assert "GITHUB_TOKEN" in result.stdout and "****" in result.stdout


def test_serve_answers_http_on_the_embedded_default(tmp_path: Path) -> None:
    assert run_cli("refresh", "octocat", "--data-dir", str(tmp_path), "-q").returncode == 0
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")}
    env["QUEUE_TRAFFIC_PCT"] = "100"  # octocat reads the bundle the queue path (`refresh`) built
    process = subprocess.Popen([sys.executable, "-m", "cloudfolio", "serve", "--port", str(port), "--data-dir",
                                str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"

        def answering() -> httpx.Response | None:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                return httpx.get(f"{base}/health", timeout=1)
            except httpx.TransportError:
                return None

        health = wait_until(answering, 20, lambda: "serve did not start", interval=0.1)
        assert health.status_code == 200
        bundle = httpx.get(f"{base}/bundles/octocat", timeout=5)
        assert bundle.status_code == 200 and len(bundle.json()["data"]) == 3
        assert bundle.json()["path"] == "queue"
        ready = httpx.get(f"{base}/ready", timeout=10).json()
        assert ready["checks"] == {"storage": "ok", "broker": "ok", "flags": "ok", "legacy": "ok"}, ready
    finally:
        process.terminate()
        process.wait(timeout=20)
    log = process.stderr.read().decode() if process.stderr else ""
    assert "in-process workers" in log, log
    # uvicorn finishes its shutdown, then re-raises SIGTERM so the exit status tells how it ended
    assert process.returncode in (0, -15) and "Traceback" not in log, log
    assert "Worker has been shut down" in log and "Application shutdown complete" in log, log


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
