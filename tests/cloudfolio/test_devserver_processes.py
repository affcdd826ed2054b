"""A process the load-test stack starts is stopped when its readiness wait fails or is interrupted:
no caller holds it yet, so nobody else could stop it. Several are stopped together, their graceful
stops overlapping."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudfolio.devserver.processes import CliProcess, QueueEnv, ServiceProcess, stop_all
from cloudfolio.devserver.threaded import free_port


def test_a_service_whose_readiness_wait_is_interrupted_is_stopped(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_init = CliProcess.__init__

    def remembering(self: CliProcess, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        started.append(self.process)

    def interrupted(self: CliProcess, *args: object, **kwargs: object) -> None:
        assert self.process.poll() is None, "the process runs while its readiness is awaited"
        raise KeyboardInterrupt("stopped by SIGTERM")

    monkeypatch.setattr(CliProcess, "__init__", remembering)
    monkeypatch.setattr(CliProcess, "wait_answering", interrupted)
    env = QueueEnv(tmp_path / "data", "http://127.0.0.1:9")
    with pytest.raises(KeyboardInterrupt):
        ServiceProcess(env, "dev-github", port=free_port(), ready_path="/users/octocat/repos")
    assert len(started) == 1 and started[0].poll() is not None, "the half-started process was stopped"


def test_stop_all_signals_every_process_before_it_waits_for_any(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = QueueEnv(tmp_path / "data", "http://127.0.0.1:9")
    processes = [ServiceProcess(env, "dev-github", port=free_port(), ready_path="/users/octocat/repos")
                 for _ in range(2)]
    first, real_wait = processes[0].process, processes[0].process.wait
    signalled_when_waiting: list[bool] = []

    def wait(timeout: float | None = None) -> int:
        signalled_when_waiting.append(processes[1].stop_requested)
        return real_wait(timeout)

    monkeypatch.setattr(first, "wait", wait)
    stop_all(processes)
    assert signalled_when_waiting and all(signalled_when_waiting), "the second was signalled before the first's wait"
    assert all(process.process.returncode is not None for process in processes)
    stop_all(processes)  # stopping stopped processes again is harmless
