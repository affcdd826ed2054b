"""CPUs a process may use: the affinity mask, capped by a cgroup v2 or v1 CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudfolio.cpus import available_cpus, cgroup_quota


def _v2(root: Path, text: str) -> Path:
    (root / "cpu.max").write_text(text + "\n")
    return root


def _v1(root: Path, quota: str, period: str) -> Path:
    (root / "cpu").mkdir()
    (root / "cpu" / "cpu.cfs_quota_us").write_text(quota + "\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text(period + "\n")
    return root


@pytest.mark.parametrize(("text", "quota"), [("50000 100000", 0.5), ("150000 100000", 1.5), ("max 100000", None),
                                             ("garbage", None), ("0 100000", None)])
def test_a_cgroup_v2_quota_is_read_from_cpu_max(tmp_path: Path, text: str, quota: float | None) -> None:
    assert cgroup_quota(_v2(tmp_path, text)) == quota


@pytest.mark.parametrize(("quota", "period", "expected"), [("25000", "100000", 0.25), ("-1", "100000", None)])
def test_a_cgroup_v1_quota_is_read_from_cfs_files(tmp_path: Path, quota: str, period: str,
                                                  expected: float | None) -> None:
    assert cgroup_quota(_v1(tmp_path, quota, period)) == expected


def test_no_cgroup_files_mean_no_quota(tmp_path: Path) -> None:
    assert cgroup_quota(tmp_path) is None
    assert available_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_a_quota_caps_the_affinity_rounded_down_and_never_below_one(tmp_path: Path) -> None:
    # half a core (Azure Container Apps' cpu: 0.5) is one process, not one per host core
    assert available_cpus(_v2(tmp_path, "50000 100000")) == 1
    one_and_a_half = tmp_path / "one-and-a-half"
    one_and_a_half.mkdir()
    assert available_cpus(_v2(one_and_a_half, "150000 100000")) == 1, "one whole core, not two throttled"
    big = tmp_path / "big"
    big.mkdir()
    assert available_cpus(_v2(big, "6400000 100000")) == len(os.sched_getaffinity(0)), "a quota above the cores"
