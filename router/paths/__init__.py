"""The two paths a request can take, behind one interface.

:class:`QueuePath` runs the queue pipeline (live, or ``shadow`` for mirrors); :class:`LegacyPath`
drives the legacy orchestrator over HTTP. Each can start a run (or say the bundle is already
current), report a job's status, wait for a run's final records, and read the bundle a user on that
path is served, in the same shapes. The router uses them for the primary request and the shadow
mirror alike.
"""

from router.paths.base import CachedBundle, PathFailed, Run, RunResult
from router.paths.legacy import LegacyPath
from router.paths.queue import QueuePath

__all__ = ["CachedBundle", "LegacyPath", "PathFailed", "QueuePath", "Run", "RunResult"]
