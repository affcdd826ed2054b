"""Conditional GETs: ``ETag`` on bundle and record answers, ``If-None-Match`` answered with 304.

The front end polls a user's bundle; with the ETag it sends back, an unchanged bundle costs a 304
without a body. ETags are strong, built from the storage etag of the blob the answer came from
(the queue path) or from a digest of the answer's bytes (the legacy path), per RFC 9110 8.8.3.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response


def etag_of_blob(storage_etag: str, variant: str = "") -> str:
    """A strong ETag for an answer built from one blob (``variant`` tells answers of one blob apart)."""
    inner = storage_etag.strip().removeprefix("W/").strip('"')
    return f'"{inner}{"-" + variant if variant else ""}"'


def etag_of_bytes(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def client_has(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 13.1.2 asks) or is ``*``."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag})


def tagged(request: Request, body: bytes, etag: str, status_code: int = 200) -> Response:
    """The answer with its ETag, or 304 when the client already has it."""
    if client_has(request, etag):
        return not_modified(etag)
    return Response(body, status_code=status_code, media_type="application/json", headers={"ETag": etag})
