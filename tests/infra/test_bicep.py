"""The Bicep templates: every file parses, the structure keeps its promises, checkov passes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
BICEP = ROOT / "infra" / "bicep"
FILES = sorted(BICEP.rglob("*.bicep"))
CHECKOV = ROOT / ".tools" / "iac-venv" / "bin" / "checkov"


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def resources(kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in FILES:
        for name, resource in (parse(path).get("resources") or {}).items():
            if resource["type"] == kind and not resource.get("existing"):
                config = resource["config"]
                found.append((name, config.get("config", config)))  # a conditional resource nests it
    return found


def dotted(expression: Any) -> str:
    """``a.b.c`` from pycep's nested property-accessor trees (plain strings pass through)."""
    if isinstance(expression, dict) and expression.get("operator", {}).get("type") == "property_accessor":
        operands = expression["operator"]["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    return str(expression)


def walk(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_every_bicep_file_parses(path: Path) -> None:
    assert parse(path)


def test_a_syntax_error_fails_the_parse(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("resource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'a'\n")
    with pytest.raises(Exception):  # noqa: B017 - lark raises its own error classes
        parse(broken)


def test_every_container_app_has_probes_and_a_managed_identity() -> None:
    apps = resources("Microsoft.App/containerApps")
    assert {name for name, _ in apps} >= {"router", "syncWorker", "mergeWorker", "legacy", "watcher", "rabbit"}
    for name, config in apps:
        assert config["identity"]["type"] == "UserAssigned", name
        for container in config["properties"]["template"]["containers"]:
            kinds = {probe["type"] for probe in container.get("probes", [])}
            assert {"Liveness", "Readiness"} <= kinds, name
    router = dict(apps)["router"]
    paths = {p["type"]: p["httpGet"]["path"] for p in router["properties"]["template"]["containers"][0]["probes"]}
    assert paths == {"Liveness": "/health", "Readiness": "/ready"}
    scale = router["properties"]["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 5) and "http" in scale["rules"][0]
    assert router["properties"]["configuration"]["ingress"]["external"] is True
    rabbit = dict(apps)["rabbit"]["properties"]["configuration"]["ingress"]
    assert rabbit["external"] is False


def test_sync_worker_scales_on_the_github_sync_queue_over_http() -> None:
    sync = dict(resources("Microsoft.App/containerApps"))["syncWorker"]
    scale = sync["properties"]["template"]["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (2, 20)
    [rule] = scale["rules"]
    assert rule["custom"]["type"] == "rabbitmq"
    metadata = rule["custom"]["metadata"]
    assert metadata == {"queueName": "syncQueue", "mode": "QueueLength", "value": "10", "protocol": "http"}
    apps_params = parse(BICEP / "modules" / "apps.bicep")["parameters"]
    assert apps_params["syncQueue"]["default"] == "github-sync"


def test_trainer_is_an_event_driven_job_scaling_to_zero_on_the_training_queue() -> None:
    trainer = dict(resources("Microsoft.App/jobs"))["trainer"]
    configuration = trainer["properties"]["configuration"]
    assert configuration["triggerType"] == "Event"
    scale = configuration["eventTriggerConfig"]["scale"]
    assert scale["minExecutions"] == 0 and scale["rules"][0]["type"] == "rabbitmq"
    assert scale["rules"][0]["metadata"]["queueName"] == "trainingQueue"
    assert trainer["properties"]["template"]["containers"][0]["args"] == ["train", "--from-queue"]


def test_key_vault_uses_rbac_soft_delete_and_purge_protection() -> None:
    [(_, vault)] = resources("Microsoft.KeyVault/vaults")
    properties = vault["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True and properties["enablePurgeProtection"] is True


def test_redis_for_the_github_budget_is_tls_only_and_reached_through_key_vault() -> None:
    [(_, redis)] = resources("Microsoft.Cache/redis")
    properties = redis["properties"]
    assert properties["enableNonSslPort"] is False and properties["minimumTlsVersion"] == "1.2"
    apps = (BICEP / "modules" / "apps.bicep").read_text()
    assert "name: 'CLOUDFOLIO_REDIS_URL'\n    secretRef: 'redis-url'" in apps
    assert apps.count("name: 'redis-url'") == apps.count("name: 'github-token'") == 6  # every app with the token


def test_storage_is_private_and_tls12() -> None:
    [(_, account)] = resources("Microsoft.Storage/storageAccounts")
    properties = account["properties"]
    assert properties["allowBlobPublicAccess"] is False and properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True


def test_the_rollout_flags_start_safe() -> None:
    raw = parse(BICEP / "modules" / "keyvault.bicep")["variables"]["flags"]["value"]
    flags = {key.strip("'"): value for key, value in raw.items()}
    assert flags["QUEUE-TRAFFIC-PCT"] == "0" and flags["ENABLE-QUEUE-SHADOW"] == "false"


SECRET_LITERAL = re.compile(
    r"AccountKey=|SharedAccessSignature=|[?&]sig=|://[^/${}\s:]+:[^@${}\s]+@|^Bearer \S+|ghp_\w+"
)


def test_no_resource_carries_a_secret_literal() -> None:
    for path in FILES:
        for name, resource in (parse(path).get("resources") or {}).items():
            for value in walk(resource["config"]):
                if isinstance(value, str):
                    assert not SECRET_LITERAL.search(value), f"{path.name}:{name}: {value[:60]}"
    for parameters in (BICEP / "parameters").glob("*.json"):
        text = parameters.read_text()
        for name in ("rabbitmqPassword", "adminToken", "githubToken", "rollbackWebhookUri", "externalBrokerUrl"):
            assert f'"{name}"' not in text, f"{parameters.name} must not hold {name}; pass it at deploy time"


def test_secrets_are_secure_parameters() -> None:
    params = parse(BICEP / "main.bicep")["parameters"]
    for name in ("rabbitmqPassword", "adminToken", "githubToken", "rollbackWebhookUri", "externalBrokerUrl",
                 "externalManagementUrl"):
        assert any(d.get("type") == "secure" for d in params[name]["decorators"]), name


def test_least_privilege_roles() -> None:
    roles = parse(BICEP / "modules" / "roles.bicep")
    text = (BICEP / "modules" / "roles.bicep").read_text()
    assert "b86a8fe4-44ce-4948-aee5-eccb2c155cd7" in text  # Secrets Officer: one principal only
    assert roles["resources"]["secretOfficer"]["config"]["properties"]["principalId"] == "secretOfficerPrincipalId"
    main = parse(BICEP / "main.bicep")["modules"]["roles"]["config"]["params"]
    assert dotted(main["secretOfficerPrincipalId"]) == "identities.outputs.rollback.principalId"


def test_every_module_output_main_uses_exists() -> None:
    main = parse(BICEP / "main.bicep")
    text = (BICEP / "main.bicep").read_text()
    paths = {name: module["detail"]["path"] for name, module in main["modules"].items()}
    used = set(re.findall(r"\b(\w+)\.outputs\.(\w+)", text))
    assert used
    for module, output in used:
        outputs = parse(BICEP / paths[module])["outputs"]
        assert output in outputs, f"{module}.outputs.{output} is not an output of {paths[module]}"


def test_parameter_files_name_only_known_parameters() -> None:
    known = set(parse(BICEP / "main.bicep")["parameters"])
    for parameters in (BICEP / "parameters").glob("*.json"):
        assert set(json.loads(parameters.read_text())["parameters"]) <= known, parameters.name


def test_checkov_scan_passes_with_justified_skips() -> None:
    if not CHECKOV.exists():
        unavailable(f"checkov is not installed at {CHECKOV} (scripts/test.sh installs it in its own venv)")
    result = subprocess.run([str(CHECKOV), "-d", str(ROOT / "infra"), "--framework", "bicep", "--compact", "--quiet",
                             "--skip-download", "-o", "json"], capture_output=True, text=True, timeout=600)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    for item in reports:
        summary = item["summary"]
        assert summary["failed"] == 0 and summary["parsing_errors"] == 0, item["results"].get("failed_checks")
        for skipped in item["results"].get("skipped_checks", []):
            assert (skipped.get("check_result") or {}).get("suppress_comment", "").strip(), skipped["check_id"]
    assert result.returncode == 0
