"""Validation of GitHub logins and repository names before they are used in keys, URLs or paths.

Rules follow what GitHub accepts: a login is 1-39 characters, ASCII letters, digits and single
hyphens, not starting or ending with a hyphen. A repository name is 1-100 characters of ASCII
letters, digits, ``.``, ``-`` and ``_`` and is never ``.`` or ``..``. Anything else (``../x``,
``a/b``, ``%2e%2e``, NUL, a megabyte of text) is refused before it can address storage.
"""

from __future__ import annotations

import re

from services.core.errors import InvalidName

_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def validate_username(value: object) -> str:
    """Return ``value`` if it is a valid GitHub login, else raise :class:`InvalidName`."""
    if not isinstance(value, str):
        raise InvalidName(f"username must be a string, got {type(value).__name__}")
    if len(value) > 39 or not _LOGIN.fullmatch(value):
        raise InvalidName(
            "invalid username: a GitHub login is 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen"
        )
    return value


def validate_repo_name(value: object) -> str:
    """Return ``value`` if it is a valid GitHub repository name, else raise :class:`InvalidName`."""
    if not isinstance(value, str):
        raise InvalidName(f"repository name must be a string, got {type(value).__name__}")
    if len(value) > 100 or not _REPO.fullmatch(value) or value in {".", ".."}:
        raise InvalidName(
            "invalid repository name: 1-100 letters, digits, '.', '-' or '_', and not '.' or '..'"
        )
    return value
