"""The Dockerfiles copy every package the project installs (a missed one breaks the console script)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "infra" / "docker").glob("*.Dockerfile"))


def installed_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return {name.rstrip("*") for name in config["tool"]["setuptools"]["packages"]["find"]["include"]}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_installed_package_is_copied(dockerfile: Path) -> None:
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile.read_text("utf-8"), re.M))
    assert installed_packages() <= copied, f"{dockerfile.name} misses {sorted(installed_packages() - copied)}"
    assert "ENTRYPOINT [\"cloudfolio\"]" in dockerfile.read_text("utf-8")
