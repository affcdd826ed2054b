"""The running router against its own OpenAPI document, fuzzed by schemathesis with every check.

``cloudfolio serve`` on the embedded default (queue path for everyone, the admin token set) is
tested by schemathesis (its own virtual environment, ``.tools/schemathesis-venv``) through the
coverage, fuzzing and stateful phases, bounded in examples and time: no 5xx, no answer outside the
document (status, content type, headers, body schema), invalid input rejected and valid input
accepted, and no traceback in any body it received.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from cloudfolio.devserver.processes import QueueEnv, ServiceProcess
from cloudfolio.devserver.threaded import free_port
from tests.support.services import ROOT, unavailable

pytestmark = pytest.mark.integration
ST = ROOT / ".tools" / "schemathesis-venv" / "bin" / "st"
TOKEN = "schemathesis-admin"
#: The stateful phase follows the document's own links only (Location-header guessing drops the query).
CONFIG = "[phases.stateful.inference]\nalgorithms = []\n"


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    if not ST.exists():
        unavailable(f"schemathesis is not installed at {ST} (scripts/test.sh installs it)")
    env = QueueEnv(tmp_path / "data", "http://127.0.0.1:9", extra={
        "CLOUDFOLIO_REPO_SOURCE": "sample", "QUEUE_TRAFFIC_PCT": "100", "CLOUDFOLIO_ADMIN_TOKEN": TOKEN,
        "CLOUDFOLIO_REFRESH_LIMIT_PER_CLIENT": "0", "CLOUDFOLIO_REFRESH_LIMIT_PER_USER": "0",
        "CLOUDFOLIO_LEGACY_INLINE_TRAINING": "false", "CLOUDFOLIO_LOG_LEVEL": "warning"})
    router = ServiceProcess(env, "serve", port=free_port(), ready_path="/health")
    try:
        httpx.get(f"{router.url}/bundles/octocat/search", params={"q": "warm"}, timeout=120)  # loads the model
        (tmp_path / "schemathesis.toml").write_text(CONFIG)
        har = tmp_path / "answers.har"
        result = subprocess.run(
            [str(ST), "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{router.url}/openapi.json",
             "--checks", "all", "--max-examples", "15", "--max-time", "90", "--workers", "1", "--seed", "7",
             "--request-timeout", "30", "--max-response-time", "30", "-H", f"Authorization: Bearer {TOKEN}",
             "--no-color", "--report", "har", "--report-har-path", str(har)],
            capture_output=True, text=True, timeout=240, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:]
        # the closing line counts failures and errors; warnings (e.g. the sign-in form refusing every generated
        # token: "Authentication failed") are not failures
        closing = [line for line in result.stdout.splitlines() if line.startswith("=====")][-1]
        assert "passed" in result.stdout and not re.search(r"\d+ (failure|error)", closing), closing
        bodies = har.read_text(errors="replace")
        assert '"status": 200' in bodies, "the HAR report holds the answers"
        assert "Traceback" not in bodies and "File \\\"" not in bodies, "no traceback in any body"
    finally:
        router.stop()
