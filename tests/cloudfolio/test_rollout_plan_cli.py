"""``cloudfolio rollout plan`` and ``rollout readiness`` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFOLIO_")} | settings
    return subprocess.run([sys.executable, "-m", "cloudfolio", "rollout", *args, "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_an_operator_starts_promotes_and_aborts_a_plan(tmp_path: Path) -> None:
    shown = json.loads(cli(tmp_path, "plan", "show").stdout)
    assert [s["percentage"] for s in shown["plan"]["steps"]] == [10, 25, 50, 100]
    assert shown["state"]["status"] == "not_started"
    missing = cli(tmp_path, "plan", "start")
    assert missing.returncode == 2 and "needs --reason" in missing.stderr
    assert cli(tmp_path, "plan", "start", "--reason", "day one").returncode == 0
    status = json.loads(cli(tmp_path, "status").stdout)
    assert status["flags"]["percentage"] == 10 and status["plan"]["status"] == "running"
    promoted = json.loads(cli(tmp_path, "plan", "promote", "--reason", "confident").stdout)
    assert promoted["step"] == 2 and promoted["percentage"] == 25
    assert cli(tmp_path, "plan", "resume", "--reason", "x").returncode == 1, "resume applies only when paused"
    not_ready = cli(tmp_path, "readiness")
    assert not_ready.returncode == 1 and json.loads(not_ready.stdout)["ready"] is False
    assert cli(tmp_path, "plan", "abort", "--reason", "stop").returncode == 0
    status = json.loads(cli(tmp_path, "status").stdout)
    assert status["flags"]["percentage"] == 0 and status["plan"]["status"] == "aborted"


def test_a_bad_plan_file_stops_with_exit_2_naming_the_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text("[[steps]]\npercentage = 50\n\n[[steps]]\npercentage = 20\n")
    bad = cli(tmp_path, "plan", "show", CLOUDFOLIO_ROLLOUT_PLAN=str(plan))
    assert bad.returncode == 2 and f"{plan}:4: percentage 20 does not increase" in bad.stderr
    assert "Traceback" not in bad.stderr
