"""A process the load-test stack starts is stopped when its readiness wait fails or is interrupted:
no caller holds it yet, so nobody else could stop it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudfolio.devserver.processes import CliProcess, QueueEnv, ServiceProcess
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
