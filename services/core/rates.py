"""A rate written for people: ``N/s``, ``N/min`` or ``N/h`` (``0`` means no limit), parsed once.

Used by settings (refresh limits, quotas) and by whatever enforces them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|min|minute|h|hour)\s*$")
_PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True)
class Rate:
    tokens: float
    per_seconds: float
    text: str

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``None`` for ``0`` (no limit); ``ValueError`` for anything unreadable."""
        if text.strip() in ("0", ""):
            return None
        match = _RATE.fullmatch(text)
        if not match or float(match.group(1)) <= 0:
            raise ValueError(f"expected N/s, N/min or N/h (or 0 for no limit), got {text!r}")
        return cls(float(match.group(1)), _PERIODS[match.group(2)], text.strip())
