"""How one environment variable is declared and parsed: :class:`Variable` and the value parsers.

Each parser takes the variable's name and raw text and returns the typed value, or raises
:class:`~services.core.errors.SettingsError` naming the variable and what it accepts. Used by
:mod:`services.core.settings` only, which declares every variable with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.core.errors import SettingsError
from services.core.rates import Rate


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, the settings field it fills, default and meaning."""

    env: str
    field: str
    default: str
    doc: str
    parse: Callable[[str, str], Any]
    secret: bool = False


def as_text(name: str, value: str) -> str:
    return value.strip()


def as_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(name, f"expected true or false, got {value!r}")


def auto_or_bool(name: str, value: str) -> bool | None:
    """``auto`` (None: the program decides) or a boolean."""
    if value.strip().lower() == "auto":
        return None
    try:
        return as_bool(name, value)
    except SettingsError:
        raise SettingsError(name, f"expected auto, true or false, got {value!r}") from None


def number_range(kind: type[int] | type[float], low: float, high: float) -> Callable[[str, str], Any]:
    noun = "an integer" if kind is int else "a number"

    def parse(name: str, value: str) -> Any:
        try:
            number = kind(value.strip())
        except ValueError:
            raise SettingsError(name, f"expected {noun}, got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(name, f"must be between {low:g} and {high:g}, got {number:g}")
        return number

    return parse


def int_range(low: int, high: int) -> Callable[[str, str], int]:
    return number_range(int, low, high)


def float_range(low: float, high: float) -> Callable[[str, str], float]:
    return number_range(float, low, high)


def choice(*options: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        lowered = value.strip().lower()
        if lowered not in options:
            raise SettingsError(name, f"must be one of {', '.join(options)}, got {value!r}")
        return lowered

    return parse


def url_of(*schemes: str, optional: bool = True) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        value = value.strip()
        if not value and optional:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            shown = value.replace(parts.password, "***") if parts.password else value  # never echo a password
            raise SettingsError(name, f"expected a {' or '.join(schemes)} URL, got {shown!r}")
        return value

    return parse


def existing_file(name: str, value: str) -> str:
    value = value.strip()
    if value and not Path(value).expanduser().is_file():
        raise SettingsError(name, f"no such file: {value!r}")
    return value


def as_rate(name: str, value: str) -> Rate | None:
    try:
        return Rate.parse(value)
    except ValueError as exc:
        raise SettingsError(name, str(exc)) from None


def queue_name(name: str, value: str) -> str:
    value = value.strip()
    if not value or not all(c.isalnum() or c in "-_." for c in value) or value.endswith((".DQ", ".XQ")):
        raise SettingsError(name, f"queue names are letters, digits, '-', '_' or '.', got {value!r}")
    return value
