"""Where rollout flags live. Each store reads and writes the same raw values by name.

Names are Key Vault style (letters, digits, hyphens), the same in every store:
``QUEUE-TRAFFIC-PCT``, ``ENABLE-QUEUE-SHADOW``, ``SHADOW-SAMPLE-PCT``, ``ROLLOUT-STICKINESS``,
``ROLLOUT-LOCK``. Values are strings, exactly as stored; parsing and validation happen in
:mod:`router.flags`, so a bad value in any store fails safe the same way.

- :class:`FileFlagStore` (embedded default): one JSON file, written atomically. A new file is
  seeded from the environment variables ``QUEUE_TRAFFIC_PCT``, ``ENABLE_QUEUE_SHADOW``,
  ``SHADOW_SAMPLE_PCT`` and ``ROLLOUT_STICKINESS``, so ``QUEUE_TRAFFIC_PCT=30 cloudfolio serve`` does
  what it says.
- :class:`EnvFlagStore`: the same environment variables, read-only.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from services.core.errors import CloudfolioError

QUEUE_TRAFFIC_PCT = "QUEUE-TRAFFIC-PCT"
ENABLE_QUEUE_SHADOW = "ENABLE-QUEUE-SHADOW"
SHADOW_SAMPLE_PCT = "SHADOW-SAMPLE-PCT"
ROLLOUT_STICKINESS = "ROLLOUT-STICKINESS"
ROLLOUT_LOCK = "ROLLOUT-LOCK"
FLAG_NAMES = (QUEUE_TRAFFIC_PCT, ENABLE_QUEUE_SHADOW, SHADOW_SAMPLE_PCT, ROLLOUT_STICKINESS, ROLLOUT_LOCK)

#: Flag name -> the environment variable that seeds or supplies it.
ENV_NAMES = {name: name.replace("-", "_") for name in FLAG_NAMES}


class FlagStoreError(CloudfolioError):
    """The flag store could not be read or written."""


class ReadOnlyFlagStore(FlagStoreError):
    """This store cannot be changed at run time (the env store)."""


class FlagStore(ABC):
    """Raw flag values by name."""

    name = "flags"

    @abstractmethod
    def read(self) -> dict[str, str]:
        """Every flag that is set, as stored (missing flags are absent)."""

    @abstractmethod
    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        """Set the given flags; ``actor`` and ``reason`` say who changed them and why."""


def env_seed(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {name: env[var] for name, var in ENV_NAMES.items() if env.get(var, "") != ""}


class EnvFlagStore(FlagStore):
    """Flags from environment variables (``QUEUE_TRAFFIC_PCT`` ...), read-only."""

    name = "env"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def read(self) -> dict[str, str]:
        return env_seed(self._environ)

    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        raise ReadOnlyFlagStore("the env flag store is read-only; change the environment and restart")


class FileFlagStore(FlagStore):
    """Flags in a JSON file, with a history of changes (who, why, previous value).

    Parameters:
      path(str | Path): the JSON file; created (seeded from the environment) when missing.
      environ(Mapping | None): where seeds come from. Defaults to ``os.environ``.
    """

    name = "file"

    def __init__(self, path: str | Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.exists():
            self._save({"flags": env_seed(environ), "history": []})

    def _load(self) -> dict:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise FlagStoreError(f"cannot read flag file {self.path}: {exc}") from exc

    def _save(self, document: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".flags-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
        os.replace(temp, self.path)

    def read(self) -> dict[str, str]:
        flags = self._load().get("flags", {})
        return {str(k): str(v) for k, v in flags.items()}

    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        from datetime import UTC, datetime

        with self._lock:
            document = self._load()
            flags = document.setdefault("flags", {})
            history = document.setdefault("history", [])
            for name, value in values.items():
                history.append({"name": name, "value": value, "previous": flags.get(name), "actor": actor,
                                "reason": reason, "at": datetime.now(UTC).isoformat()})
                flags[name] = value
            document["history"] = history[-200:]
            self._save(document)
