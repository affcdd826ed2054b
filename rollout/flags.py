"""The rollout flags: their names, their values in force, and the one parser every reader uses.

Names are Key Vault style (letters, digits, hyphens), the same in every store:
``QUEUE-TRAFFIC-PCT``, ``ENABLE-QUEUE-SHADOW``, ``SHADOW-SAMPLE-PCT``, ``ROLLOUT-STICKINESS``,
``ROLLOUT-LOCK``. Stores keep raw strings; :func:`parse_flags` turns them into
:class:`RolloutFlags`, failing safe on every bad value: an invalid percentage (``"abc"``, 150,
-1, NaN) means 0 % to the queue path, a bad shadow flag means shadow off, a bad stickiness means
sticky, and each problem is reported by flag name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

QUEUE_TRAFFIC_PCT = "QUEUE-TRAFFIC-PCT"
ENABLE_QUEUE_SHADOW = "ENABLE-QUEUE-SHADOW"
SHADOW_SAMPLE_PCT = "SHADOW-SAMPLE-PCT"
ROLLOUT_STICKINESS = "ROLLOUT-STICKINESS"
ROLLOUT_LOCK = "ROLLOUT-LOCK"
FLAG_NAMES = (QUEUE_TRAFFIC_PCT, ENABLE_QUEUE_SHADOW, SHADOW_SAMPLE_PCT, ROLLOUT_STICKINESS, ROLLOUT_LOCK)
STICKINESS = ("sticky", "random")


@dataclass(frozen=True)
class RolloutFlags:
    """The flags in force."""

    percentage: float = 0.0
    shadow: bool = False
    shadow_sample_pct: float = 100.0
    stickiness: str = "sticky"
    lock: str = ""
    errors: tuple[str, ...] = field(default=())

    @property
    def locked(self) -> bool:
        return bool(self.lock)

    def as_dict(self) -> dict[str, object]:
        return {"percentage": self.percentage, "shadow": self.shadow, "shadow_sample_pct": self.shadow_sample_pct,
                "stickiness": self.stickiness, "locked": self.locked, "lock": self.lock or None,
                "errors": list(self.errors)}


def parse_percentage(raw: str | None, default: float) -> tuple[float, str | None]:
    """``(value, problem)``; a bad value gives ``(0.0, why)``: fail safe to the legacy path."""
    if raw is None or raw.strip() == "":
        return default, None
    try:
        value = float(raw)
    except ValueError:
        return 0.0, f"not a number: {raw!r}"
    if not 0 <= value <= 100 or value != value:  # NaN compares unequal to itself
        return 0.0, f"out of range 0-100: {raw!r}"
    return value, None


def _boolean(raw: str | None) -> tuple[bool, str | None]:
    if raw is None or raw.strip() == "":
        return False, None
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True, None
    if lowered in {"0", "false", "no", "off"}:
        return False, None
    return False, f"not true or false: {raw!r}"


def parse_flags(raw: Mapping[str, str]) -> tuple[RolloutFlags, dict[str, str]]:
    """Parse raw store values; return the flags and ``{flag: problem}`` for every bad value."""
    problems: dict[str, str] = {}
    percentage, problem = parse_percentage(raw.get(QUEUE_TRAFFIC_PCT), 0.0)
    if problem:
        problems[QUEUE_TRAFFIC_PCT] = problem
    shadow, problem = _boolean(raw.get(ENABLE_QUEUE_SHADOW))
    if problem:
        problems[ENABLE_QUEUE_SHADOW] = problem
    sample, problem = parse_percentage(raw.get(SHADOW_SAMPLE_PCT), 100.0)
    if problem:
        problems[SHADOW_SAMPLE_PCT] = problem
    stickiness = (raw.get(ROLLOUT_STICKINESS) or "sticky").strip().lower()
    if stickiness not in STICKINESS:
        problems[ROLLOUT_STICKINESS] = f"not sticky or random: {stickiness!r}"
        stickiness = "sticky"
    lock = (raw.get(ROLLOUT_LOCK) or "").strip()
    flags = RolloutFlags(percentage, shadow, sample, stickiness, lock,
                         tuple(f"{name}: {text}" for name, text in problems.items()))
    return flags, problems
