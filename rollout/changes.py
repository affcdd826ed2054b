"""Changing rollout flags: validation, the lock rule, and one ``set_flags`` for every caller.

The admin API (``PUT /admin/rollout``), the CLI (``cloudfolio rollout set|shadow``) and any
automation change flags through :func:`set_flags`, so the rules hold the same everywhere:

- percentages are numbers from 0 to 100, stickiness is ``sticky`` or ``random``, a change names at
  least one flag, and a reason is required (it is kept in the change history);
- while ``ROLLOUT-LOCK`` is set (after a rollback), raising the percentage is refused with
  :class:`RolloutLocked`; lowering it, and every other change, is allowed. Only a human clears the
  lock (:func:`rollout.runbook.reenable`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rollout.flags import (
    ENABLE_QUEUE_SHADOW,
    QUEUE_TRAFFIC_PCT,
    ROLLOUT_STICKINESS,
    SHADOW_SAMPLE_PCT,
    STICKINESS,
    parse_flags,
)
from rollout.stores import FlagStore
from services.core.errors import InvalidInput, Refused


class InvalidFlagChange(InvalidInput):
    """A flag change with a value outside its range, or nothing to change."""


class RolloutLocked(Refused):
    """Raising the percentage was refused because a rollback locked the rollout."""


@dataclass(frozen=True)
class FlagChanges:
    """The flags to change; None leaves a flag as it is."""

    percentage: float | None = None
    shadow: bool | None = None
    shadow_sample_pct: float | None = None
    stickiness: str | None = None

    def raw(self) -> dict[str, str]:
        """Validated store values by flag name; raises :class:`InvalidFlagChange`."""
        values: dict[str, str] = {}
        for name, flag, value in (("percentage", QUEUE_TRAFFIC_PCT, self.percentage),
                                  ("shadow_sample_pct", SHADOW_SAMPLE_PCT, self.shadow_sample_pct)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
                    or not 0 <= value <= 100:
                raise InvalidFlagChange(f"{name} must be between 0 and 100")
            values[flag] = f"{value:g}"
        if self.stickiness is not None:
            if self.stickiness not in STICKINESS:
                raise InvalidFlagChange("stickiness must be sticky or random")
            values[ROLLOUT_STICKINESS] = self.stickiness
        if self.shadow is not None:
            values[ENABLE_QUEUE_SHADOW] = "true" if self.shadow else "false"
        if not values:
            raise InvalidFlagChange("nothing to change: give percentage, stickiness, shadow or shadow_sample_pct")
        return values


def set_flags(store: FlagStore, changes: FlagChanges, *, actor: str, reason: str) -> dict[str, str]:
    """Validate ``changes``, apply the lock rule, write them; return the raw values written."""
    values = changes.raw()
    if not reason.strip():
        raise InvalidFlagChange("a reason is required (it is kept in the change history)")
    if changes.percentage is not None:
        current, _problems = parse_flags(store.read())
        if current.locked and changes.percentage > current.percentage:
            raise RolloutLocked(f"the rollout is locked ({current.lock}); run `cloudfolio rollout reenable "
                                "--reason ...` before raising the percentage")
    store.write(values, actor=actor, reason=reason)
    return values
