"""JSON error responses: every 4xx/5xx body is ``{"error": "<message>"}``, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.core.errors import InvalidName
from services.core.storage import StorageUnavailable

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


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    InvalidName: invalid_name,
    StorageUnavailable: storage_unavailable,
    Exception: unexpected,
}
