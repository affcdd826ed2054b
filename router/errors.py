"""JSON error responses: every 4xx/5xx body is ``{"error": "<message>"}``, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from router.legacy_client import LegacyProtocolError, LegacyUnavailable
from services.core.errors import InvalidName
from services.core.storage import StorageUnavailable
from services.pipeline import BrokerUnavailable

log = logging.getLogger("cloudfolio.router")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def invalid_name(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, str(exc))


async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("storage unavailable: %s", exc)
    return error_response(503, "storage is unavailable; try again shortly", {"Retry-After": "5"})


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error")


async def dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("dependency unavailable on %s: %s", request.url.path, exc)
    return error_response(503, f"{exc}; try again shortly", {"Retry-After": "5"})


async def bad_gateway(request: Request, exc: Exception) -> JSONResponse:
    log.error("legacy app protocol error on %s: %s", request.url.path, exc)
    return error_response(502, f"the legacy app answered unexpectedly: {exc}")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    InvalidName: invalid_name,
    StorageUnavailable: storage_unavailable,
    BrokerUnavailable: dependency_unavailable,
    LegacyUnavailable: dependency_unavailable,
    LegacyProtocolError: bad_gateway,
    Exception: unexpected,
}
