"""Settings: defaults, clear errors naming the variable, and README kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.errors import SettingsError
from services.core.settings import VARIABLES, Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_defaults_are_the_embedded_mode() -> None:
    settings = Settings.from_env({})
    assert (settings.broker_url, settings.storage, settings.repo_source, settings.flag_store) == ("", "local",
                                                                                                "sample", "file")
    assert settings.port == 8000 and settings.job_ttl == 3600 and settings.graphql_batch is False
    assert (settings.sync_queue, settings.merge_queue, settings.training_queue) == ("github-sync", "merge", "training")


@pytest.mark.parametrize(("env", "value", "fragment"), [
    ("CLOUDFOLIO_PORT", "eighty", "expected an integer"),
    ("CLOUDFOLIO_PORT", "70000", "between 1 and 65535"),
    ("CLOUDFOLIO_STORAGE", "s3", "must be one of local, azure"),
    ("CLOUDFOLIO_BROKER_URL", "redis://x", "amqp"),
    ("ENABLE_GRAPHQL_BATCH_FETCH", "maybe", "auto, true or false"),
    ("CLOUDFOLIO_GITHUB_API_URL", "not a url", "URL"),
    ("CLOUDFOLIO_SYNC_QUEUE", "bad name!", "queue names"),
    ("CLOUDFOLIO_SYNC_QUEUE", "sync.XQ", "queue names"),
])
def test_invalid_values_name_the_variable(env: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({env: value})
    assert caught.value.variable == env
    assert env in str(caught.value) and fragment in str(caught.value)


@pytest.mark.parametrize(("environ", "variable"), [
    ({"CLOUDFOLIO_STORAGE": "azure"}, "CLOUDFOLIO_STORAGE"),
    ({"CLOUDFOLIO_REPO_SOURCE": "local"}, "CLOUDFOLIO_REPO_SOURCE"),
    ({"CLOUDFOLIO_FLAG_STORE": "keyvault"}, "CLOUDFOLIO_FLAG_STORE"),
])
def test_incomplete_combinations_are_refused(environ: dict, variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == variable


def test_secrets_are_masked_in_describe() -> None:
    settings = Settings.from_env({"GITHUB_TOKEN": "ghp_secret", "CLOUDFOLIO_ADMIN_TOKEN": "adm"})
    shown = dict((env, value) for env, value, _default in settings.describe())
    assert shown["GITHUB_TOKEN"] == "****" and shown["CLOUDFOLIO_ADMIN_TOKEN"] == "****"
    assert "ghp_secret" not in repr(settings.describe())


def test_a_refused_url_never_echoes_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CLOUDFOLIO_REDIS_URL": "http://:hunter2@cache.example:6380/0"})
    assert "CLOUDFOLIO_REDIS_URL" in str(caught.value) and "hunter2" not in str(caught.value)
    shown = dict((env, value) for env, value, _default in
                 Settings.from_env({"CLOUDFOLIO_REDIS_URL": "rediss://:hunter2@cache.example:6380/0"}).describe())
    assert shown["CLOUDFOLIO_REDIS_URL"] == "****"


def test_readme_documents_every_variable_with_its_default() -> None:
    text = README.read_text("utf-8")
    for var in VARIABLES:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{var.env}` |")), None)
        assert row is not None, f"README configuration table lacks {var.env}"
        assert f"`{var.default}`" in row or (var.default == "" and "(empty)" in row), row
