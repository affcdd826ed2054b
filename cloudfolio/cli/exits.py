"""Exit codes, and the one place where the error hierarchy becomes them.

As Dramatiq's CLI names them: 0 ok, 1 failed, 2 bad usage or configuration (the message names the
variable or the field), 3 a dependency (broker, storage, vault, GitHub, legacy app) could not be
reached. Every command raises; :func:`exit_code_for` decides, and the message is one clear line.
"""

from __future__ import annotations

from services.core.errors import CloudfolioError, DependencyUnavailable, InvalidInput, SettingsError

RET_OK, RET_FAILED, RET_USAGE, RET_CONNECT = 0, 1, 2, 3


def exit_code_for(exc: CloudfolioError) -> int:
    if isinstance(exc, InvalidInput):
        return RET_USAGE
    if isinstance(exc, DependencyUnavailable):
        return RET_CONNECT
    return RET_FAILED


def describe(exc: CloudfolioError) -> str:
    """The one line printed for an error."""
    if isinstance(exc, SettingsError):
        return f"cloudfolio: configuration error: {exc}"
    if isinstance(exc, InvalidInput):
        return f"cloudfolio: {exc}"
    if isinstance(exc, DependencyUnavailable):
        return f"cloudfolio: {exc.service} is unavailable: {exc}"
    return f"cloudfolio: {type(exc).__name__}: {exc}"
