"""Storage doubles for tests: real local files with a different claim about themselves."""

from __future__ import annotations

from services.core.storage.local import LocalBackend


class NetworkLike(LocalBackend):
    """Local files that claim to be a network service (as Azure Blob is): ``inline_io`` False."""

    inline_io = False
