"""How many CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota.

``os.cpu_count()`` counts the host's cores. In a container limited to half a core (Azure Container
Apps' ``cpu: 0.5``) or pinned to a few cores it overstates what the process gets, and a worker that
starts one process per counted core would have them fight over the quota. :func:`available_cpus`
takes the affinity mask (``sched_getaffinity``) and, where a cgroup sets a quota (v2 ``cpu.max``,
v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, read at the cgroup root the process sees), the quota
rounded down; it is at least 1. A quota it cannot see (a host cgroup namespace, a VM sandbox's
vCPUs) is not counted: deployments state the number (the Container Apps templates set 1).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs the cgroup's quota allows (``1.5`` for 150 ms per 100 ms), or None where none is set."""
    limit = _read(root / "cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
    if limit is not None:
        quota, _, period = limit.partition(" ")
    else:  # cgroup v1: -1 for no quota
        quota, period = (_read(root / "cpu" / name) or "" for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
    try:
        share = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):  # "max", missing or unreadable: no quota we can use
        return None
    return share if share > 0 else None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may run on, at most its cgroup quota rounded down, at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_quota(root)
    if quota is not None:
        cpus = min(cpus, math.floor(quota))  # 1.5 cores: one process with a whole core, not two throttled
    return max(1, cpus)
