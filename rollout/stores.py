"""Where rollout flags live. Each store reads and writes the same raw values by flag name.

Values are strings, exactly as stored; parsing and validation happen in :mod:`rollout.flags`, so a
bad value in any store fails safe the same way.

- :class:`FileFlagStore` (embedded default): one JSON file, written atomically, with a history of
  changes. A new file is seeded from the flag seed settings (``QUEUE_TRAFFIC_PCT``...), so
  ``QUEUE_TRAFFIC_PCT=30 cloudfolio serve`` does what it says on a first run.
- :class:`EnvFlagStore`: the seed settings themselves, read-only.
- :class:`rollout.keyvault_store.KeyVaultFlagStore`: Azure Key Vault secrets (production).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.core.errors import CloudfolioError, DependencyUnavailable, Refused


class FlagStoreError(CloudfolioError):
    """The flag store could not be read or written."""


class FlagStoreUnavailable(FlagStoreError, DependencyUnavailable):
    """The flag store could not be reached (Key Vault down, throttled past its retries)."""

    service = "the flag store"


class ReadOnlyFlagStore(FlagStoreError, Refused):
    """This store cannot be changed at run time (the env store)."""


@dataclass(frozen=True)
class FlagChange:
    """One change of one flag, as the store's history keeps it (``value`` None where the store's
    history does not keep values: Key Vault's version tags)."""

    name: str
    value: str | None
    previous: str | None
    actor: str
    reason: str
    at: str


class FlagStore(ABC):
    """Raw flag values by name."""

    name = "flags"

    @abstractmethod
    def read(self) -> dict[str, str]:
        """Every flag that is set, as stored (missing flags are absent)."""

    @abstractmethod
    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        """Set the given flags; ``actor`` and ``reason`` say who changed them and why."""

    def changes(self, limit: int = 20) -> list[FlagChange]:
        """The latest ``limit`` changes, newest first; a store without a history has none."""
        return []


class EnvFlagStore(FlagStore):
    """Flags from the seed settings (``QUEUE_TRAFFIC_PCT``...), read-only.

    Parameters:
      values(Mapping[str, str]): flag name -> raw value (``Settings.flag_seed``).
    """

    name = "env"

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name: value for name, value in values.items() if value != ""}

    def read(self) -> dict[str, str]:
        return dict(self._values)

    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
        raise ReadOnlyFlagStore("the env flag store is read-only; change the environment and restart")


class FileFlagStore(FlagStore):
    """Flags in a JSON file, with a history of changes (who, why, previous value).

    Parameters:
      path(str | Path): the JSON file; created (from ``seed``) when missing.
      seed(Mapping[str, str]): flag name -> raw value for a new file. Defaults to none.
    """

    name = "file"

    def __init__(self, path: str | Path, seed: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.exists():
            self._save({"flags": {k: v for k, v in (seed or {}).items() if v != ""}, "history": []})

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

    def changes(self, limit: int = 20) -> list[FlagChange]:
        history = self._load().get("history", [])
        return [FlagChange(str(item.get("name", "")), item.get("value"), item.get("previous"),
                           str(item.get("actor", "")), str(item.get("reason", "")), str(item.get("at", "")))
                for item in reversed(history[-limit:]) if isinstance(item, dict)]

    def write(self, values: Mapping[str, str], *, actor: str, reason: str) -> None:
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
