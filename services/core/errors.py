"""The one error hierarchy: every error CloudFolio raises on purpose, grouped by what a caller does.

- :class:`InvalidInput`: the caller sent something we refuse (a bad name, setting, alert, task).
  HTTP 400/422, exit 2.
- :class:`NotFound`: the thing asked for does not exist (a job, a user at the source). HTTP 404.
- :class:`Refused`: valid, but the current state forbids it (a locked rollout, a read-only store).
  HTTP 409, exit 1.
- :class:`DependencyUnavailable`: a broker, storage, vault, GitHub or the legacy app could not be
  reached; worth trying again later. HTTP 503 with ``Retry-After``, exit 3.

Each front end maps these classes to statuses in exactly one place (``router/errors.py`` for HTTP,
``cloudfolio/cli/exits.py`` for exit codes), so no caller matches on class names.
"""

from __future__ import annotations


class CloudfolioError(Exception):
    """Base class of every error CloudFolio raises on purpose."""


class InvalidInput(CloudfolioError, ValueError):
    """Input we refuse; the message says what is wrong and how to fix it."""


class NotFound(CloudfolioError, LookupError):
    """What was asked for does not exist (or no longer exists)."""


class Refused(CloudfolioError):
    """A valid request that the current state forbids; nothing was changed."""


class DependencyUnavailable(CloudfolioError):
    """A service we depend on could not be reached or kept failing; nothing was half-done.

    ``service`` names it for clients ("storage is unavailable"); the message, which may name hosts
    and ports, goes to logs only.
    """

    service = "a dependency"


class InvalidName(InvalidInput):
    """A username or repository name that GitHub would not accept (and that we never turn into a key)."""


class SettingsError(InvalidInput):
    """A configuration variable holds a value we cannot use; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
