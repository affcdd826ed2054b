"""The malloc arena bound: applied on glibc unless the operator chose their own."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = "from cloudfolio.memory import bound_malloc_arenas; print(bound_malloc_arenas())"


def run_probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena bound is a glibc setting")
def test_the_bound_is_set_on_glibc_and_an_operators_choice_wins() -> None:
    assert run_probe() == "True"
    assert run_probe(MALLOC_ARENA_MAX="4") == "False"

