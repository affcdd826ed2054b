"""The rollout plan: ordered steps of percentages, a dwell per step, and the gates each must pass.

A plan is a small TOML file (:data:`DEFAULT_PLAN`, shipped, is 10, 25, 50, 100 %); see that file
for every key. :func:`load_plan` guarantees a valid plan or raises :class:`InvalidPlan` naming the
file and line: TOML syntax, unknown keys, a percentage outside 1-100 or not increasing, a negative
dwell or threshold. Step gates inherit the plan's ``[gates]`` table and may override any of it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from services.core.errors import InvalidInput

DEFAULT_PLAN = Path(__file__).with_name("default_plan.toml")


class InvalidPlan(InvalidInput):
    """A plan file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Gates:
    max_error_rate: float = 0.02
    max_error_rate_over_legacy: float = 0.01
    max_p95_ratio: float = 1.5
    max_divergences: int = 0
    min_comparisons: int = 0
    min_requests: int = 50


@dataclass(frozen=True)
class Step:
    percentage: float
    min_dwell_seconds: float
    confirm: bool = False
    gates: Gates = field(default_factory=Gates)


@dataclass(frozen=True)
class RolloutPlan:
    steps: tuple[Step, ...]
    window_seconds: float = 300
    inconclusive_pause_seconds: float = 3600
    consecutive_error_limit: int = 4
    source: str = str(DEFAULT_PLAN)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "window_seconds": self.window_seconds,
                "inconclusive_pause_seconds": self.inconclusive_pause_seconds,
                "consecutive_error_limit": self.consecutive_error_limit,
                "steps": [{"percentage": s.percentage, "min_dwell_seconds": s.min_dwell_seconds, "confirm": s.confirm,
                           "gates": {f.name: getattr(s.gates, f.name) for f in fields(Gates)}} for s in self.steps]}


def _step_lines(text: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), 1) if line.strip().startswith("[[steps]]")]


def _number(where: str, key: str, value: Any, *, low: float = 0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (high is not None
                                                                                       and value > high):
        bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidPlan(f"{where}: {key} must be a number {bound}, got {value!r}")
    return float(value)


def _gates(where: str, table: Any, base: Gates) -> Gates:
    if not isinstance(table, dict):
        raise InvalidPlan(f"{where}: gates must be a table")
    known = {f.name: f for f in fields(Gates)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise InvalidPlan(f"{where}: unknown gate {unknown[0]!r} (known: {', '.join(known)})")
    values = {}
    for key, value in table.items():
        number = _number(where, key, value, high=1 if key.startswith("max_error_rate") else None)
        values[key] = int(number) if known[key].type in (int, "int") else number
    return replace(base, **values)


def parse_plan(text: str, source: str = "<plan>") -> RolloutPlan:
    """The plan in ``text``; raises :class:`InvalidPlan` naming ``source`` and the line."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPlan(f"{source}: {exc}") from None
    top = {"steps", "gates", "window_seconds", "inconclusive_pause_seconds", "consecutive_error_limit"}
    unknown = sorted(set(document) - top)
    if unknown:
        raise InvalidPlan(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(top))})")
    base = _gates(f"{source}: [gates]", document.get("gates", {}), Gates())
    raw_steps, lines = document.get("steps"), _step_lines(text)
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidPlan(f"{source}: a plan needs at least one [[steps]] entry")
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        where = f"{source}:{lines[index]}" if index < len(lines) else f"{source}: step {index + 1}"
        unknown = sorted(set(raw) - {"percentage", "min_dwell_seconds", "confirm", "gates"})
        if unknown:
            raise InvalidPlan(f"{where}: unknown step key {unknown[0]!r}")
        percentage = _number(where, "percentage", raw.get("percentage"), low=0.01, high=100)
        if steps and percentage <= steps[-1].percentage:
            raise InvalidPlan(f"{where}: percentage {percentage:g} does not increase on the step before "
                              f"({steps[-1].percentage:g})")
        confirm = raw.get("confirm", False)
        if not isinstance(confirm, bool):
            raise InvalidPlan(f"{where}: confirm must be true or false")
        steps.append(Step(percentage, _number(where, "min_dwell_seconds", raw.get("min_dwell_seconds", 0)), confirm,
                          _gates(where, raw.get("gates", {}), base)))
    return RolloutPlan(
        tuple(steps),
        window_seconds=_number(source, "window_seconds", document.get("window_seconds", 300), low=1),
        inconclusive_pause_seconds=_number(source, "inconclusive_pause_seconds",
                                           document.get("inconclusive_pause_seconds", 3600)),
        consecutive_error_limit=int(_number(source, "consecutive_error_limit",
                                            document.get("consecutive_error_limit", 4), low=1)),
        source=source)


def load_plan(path: str | Path | None = None) -> RolloutPlan:
    """The plan at ``path`` (the shipped default when empty)."""
    target = Path(path) if path else DEFAULT_PLAN
    try:
        text = target.read_text("utf-8")
    except OSError as exc:
        raise InvalidPlan(f"cannot read the rollout plan {target}: {exc.strerror or exc}") from None
    return parse_plan(text, str(target))
