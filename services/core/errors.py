"""Exception classes shared across the core; each names one failure a caller can handle."""

from __future__ import annotations


class CloudfolioError(Exception):
    """Base class of every error CloudFolio raises on purpose."""


class InvalidName(CloudfolioError, ValueError):
    """A username or repository name that GitHub would not accept (and that we never turn into a key)."""


class SettingsError(CloudfolioError):
    """A configuration variable holds a value we cannot use; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
