"""Decode the file contents GitHub's REST API returns: base64 with embedded newlines, UTF-8 text.

A file that is not valid base64 or not UTF-8 is skipped with a warning on the repo's documents,
never an error: one bad file does not fail a repo.
"""

from __future__ import annotations

import base64
import binascii

from services.core.records import RepoDocuments


def decode_content(content: str, path: str, docs: RepoDocuments) -> str | None:
    """Decode GitHub's base64 ``content`` (with its embedded newlines) as UTF-8, or warn and skip."""
    try:
        raw = base64.b64decode("".join(content.split()), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        docs.warnings.append(f"{path}: content is not valid base64; skipped")
    except UnicodeDecodeError:
        docs.warnings.append(f"{path}: content is not UTF-8 text; skipped")
    return None
