"""``cloudfolio worker --processes N``: the supervisor passes signals on, stops every process when one
exits on its own, and takes its processes with it when it is killed; with RabbitMQ, two real worker
processes serve health on consecutive ports and a killed one stops the worker."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloudfolio.cli.worker import worker_commands, worker_processes
from cloudfolio.cli.worker_supervisor import supervise
from cloudfolio.cpus import available_cpus
from cloudfolio.devserver.github import FakeGitHub
from cloudfolio.devserver.processes import CliProcess, QueueEnv, delete_queues
from cloudfolio.devserver.threaded import free_port
from cloudfolio.devserver.waiting import wait_until
from services.core.settings import Settings

#: A child that notes SIGTERM in its file and exits 0; it exits with EXIT_CODE on its own when set.
CHILD = """
import os, signal, sys, time
path, code, after = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def stop(signum, frame):
    open(path, "a").write("terminated\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(path, "a").write("started\\n")
while after and not os.path.exists(after):  # leave only once the other child can take SIGTERM
    time.sleep(0.05)
if code == -9:
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)
if code > 0:
    time.sleep(0.5)
    sys.exit(code)
while True:
    time.sleep(0.05)
"""


def _child(tmp_path: Path, name: str, code: int = 0, after: str = "") -> list[str]:
    """A child writing to ``name``; with ``code``, it exits so once the child ``after`` has started."""
    return [sys.executable, "-c", CHILD, str(tmp_path / name), str(code), str(tmp_path / after) if after else ""]


def _notes(tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / name
    return path.read_text().split() if path.exists() else []


def _supervisor(tmp_path: Path, names: list[str]) -> subprocess.Popen:
    commands = [_child(tmp_path, name) for name in names]
    code = f"import sys; from cloudfolio.cli.worker_supervisor import supervise; sys.exit(supervise({commands!r}))"
    process = subprocess.Popen([sys.executable, "-c", code])
    wait_until(lambda: all(_notes(tmp_path, name) == ["started"] for name in names), 30, "children not started")
    return process


@pytest.mark.timeout(60)
def test_a_child_that_exits_on_its_own_stops_the_others_and_gives_its_code(tmp_path: Path) -> None:
    assert supervise([_child(tmp_path, "steady"), _child(tmp_path, "failing", code=7, after="steady")],
                     poll=0.05) == 7
    assert _notes(tmp_path, "steady") == ["started", "terminated"], "the other process was stopped gracefully"


@pytest.mark.timeout(60)
def test_a_child_killed_by_a_signal_counts_as_exit_1(tmp_path: Path) -> None:
    assert supervise([_child(tmp_path, "steady"), _child(tmp_path, "killed", code=-9, after="steady")],
                     poll=0.05) == 1
    assert _notes(tmp_path, "steady") == ["started", "terminated"]


def test_sigterm_to_the_supervisor_reaches_every_child_and_exits_0(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, ["a", "b"])
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert _notes(tmp_path, "a") == _notes(tmp_path, "b") == ["started", "terminated"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_supervisor_takes_its_children_with_it(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, ["a", "b"])
    supervisor.kill()
    supervisor.wait(timeout=30)
    wait_until(lambda: _notes(tmp_path, "a") == _notes(tmp_path, "b") == ["started", "terminated"], 30,
               "a child of a killed supervisor kept running")


def _args(processes: int | None) -> argparse.Namespace:
    return argparse.Namespace(processes=processes)


def test_the_process_count_comes_from_the_flag_the_setting_or_the_cpus() -> None:
    auto, three = Settings.from_env({}), Settings.from_env({"CLOUDFOLIO_WORKER_PROCESSES": "3"})
    assert worker_processes(_args(None), auto, ["all"]) == available_cpus()
    assert worker_processes(_args(None), auto, ["train"]) == 1, "torch already uses every core"
    assert worker_processes(_args(None), three, ["sync"]) == 3
    assert worker_processes(_args(2), three, ["train"]) == 2, "the flag wins"
    commands = worker_commands(["sync"], 8, 2, 9000, 12.5)
    assert [command[command.index("--health-port") + 1] for command in commands] == ["9000", "9001"]
    assert all(command[command.index("--processes") + 1] == "1" for command in commands)
    assert all(command[command.index("--shutdown-timeout") + 1] == "12.5" for command in commands)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def queue_env(github: FakeGitHub, rabbitmq_url: str, tmp_path: Path) -> Iterator[QueueEnv]:
    env = QueueEnv(tmp_path / "data", github.base_url, broker_url=rabbitmq_url)
    yield env
    delete_queues(rabbitmq_url, env.queue_names)


def test_two_worker_processes_serve_health_and_a_killed_one_stops_the_worker(queue_env: QueueEnv,
                                                                               tmp_path: Path) -> None:
    port = free_port()
    while not _port_free(port + 1):
        port = free_port()
    worker = CliProcess(queue_env, ["worker", "all", "--threads", "2", "--processes", "2", "--health-port",
                                    str(port)], tmp_path / "worker.log")
    try:
        for each in (port, port + 1):
            worker.wait_answering(f"http://127.0.0.1:{each}/health", "worker", lambda status: status == 200)
        pids = [httpx.get(f"http://127.0.0.1:{each}/health", timeout=5).json()["pid"] for each in (port, port + 1)]
        assert len(set(pids)) == 2 and worker.process.pid not in pids, "two child processes, one per port"
        os.kill(pids[1], signal.SIGKILL)
        assert worker.process.wait(timeout=60) == 1, worker.log_text()
        log = worker.log_text()
        assert f"worker process {pids[1]} exited unexpectedly" in log and "worker stopped" in log, log
        with pytest.raises(ProcessLookupError):
            os.kill(pids[0], 0)
    finally:
        worker.stop(timeout=30)
