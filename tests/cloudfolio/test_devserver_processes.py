"""A process the load-test stack starts is stopped when its readiness wait fails or is interrupted:
no caller holds it yet, so nobody else could stop it. Several are stopped together, their graceful
stops overlapping."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    calls: list[tuple[str, int]] = []

    def recording(real: Callable[..., Any], call: tuple[str, int]) -> Callable[..., Any]:
        def recorded(*args: object, **kwargs: object) -> Any:
            calls.append(call)
            return real(*args, **kwargs)
        return recorded

    for index, process in enumerate(processes):
        for name in ("request_stop", "stop"):
            monkeypatch.setattr(process, name, recording(getattr(process, name), (name, index)))
    stop_all(processes)
    first_wait = calls.index(("stop", 0))
    assert {("request_stop", 0), ("request_stop", 1)} <= set(calls[:first_wait]), calls
    assert all(process.process.returncode is not None for process in processes)
    stop_all(processes)  # stopping stopped processes again is harmless
