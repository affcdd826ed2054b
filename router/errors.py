"""JSON error answers: every 4xx/5xx body is ``{"error": "<message>"}``, never a traceback.

The one place where the error hierarchy (:mod:`services.core.errors`) becomes HTTP statuses:

- ``InvalidInput``: 400, or 422 for a well-formed body whose values are wrong (a flag change);
- ``NotFound``: 404; ``Refused``: 409;
- ``DependencyUnavailable`` (storage, broker, vault, legacy app): 503 with ``Retry-After``;
- a refresh over a rate limit: 429 with ``Retry-After`` and the limit named;
- a legacy answer outside the Durable API: 502; anything else: 500, logged with its traceback.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from rollout.changes import InvalidFlagChange
from router.legacy_client import LegacyProtocolError
from router.rate_limits import RefreshRateLimited
from services.core.errors import DependencyUnavailable, InvalidInput, NotFound, Refused
from services.core.quotas import QuotaExceeded

log = logging.getLogger("cloudfolio.router")

#: Seconds a client is told to wait after a 503.
RETRY_AFTER_SECONDS = "5"


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
    return error_response(422 if isinstance(exc, InvalidFlagChange) else 400, str(exc))


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, str(exc))


async def refused(request: Request, exc: Exception) -> JSONResponse:
    return error_response(409, str(exc))


async def dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("dependency unavailable on %s: %s", request.url.path, exc)
    service = getattr(exc, "service", "a dependency")
    return error_response(503, f"{service} is unavailable; try again shortly", {"Retry-After": RETRY_AFTER_SECONDS})


async def bad_gateway(request: Request, exc: Exception) -> JSONResponse:
    log.error("legacy app protocol error on %s: %s", request.url.path, exc)
    return error_response(502, "the legacy app answered outside the Durable Functions API; try again later")


async def rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RefreshRateLimited)
    body = {"error": str(exc), "limit": exc.limit, "rate": exc.rate, "retry_after_seconds": exc.retry_after}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def over_quota(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    return JSONResponse(exc.body(), status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    InvalidInput: invalid_input,
    NotFound: not_found,
    Refused: refused,
    DependencyUnavailable: dependency_unavailable,
    LegacyProtocolError: bad_gateway,
    RefreshRateLimited: rate_limited,
    QuotaExceeded: over_quota,
    Exception: unexpected,
}
