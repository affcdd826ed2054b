"""The router's Starlette application factory.

Routes so far: liveness (``/health``) and the read-only bundle views (``GET /bundles/{username}``,
``GET /bundles/{username}/{repo}``) over the live namespace of the cache. Handlers that touch
storage are plain functions, which Starlette runs in its thread pool, so a slow read never blocks
the event loop. The routing decision,
refresh, shadow and admin routes are added by later work on this module.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Lifespan

from router.errors import EXCEPTION_HANDLERS, error_response
from services.core.cache import BundleCache
from services.core.keys import CacheKeys, Namespace
from services.core.names import validate_repo_name, validate_username
from services.core.storage import StorageBackend


def create_app(storage: StorageBackend, lifespan: Lifespan | None = None) -> Starlette:
    """Build the router app over ``storage``; ``lifespan`` starts and stops in-process workers."""
    live = BundleCache(storage, CacheKeys(Namespace.LIVE))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "healthy", "timestamp": datetime.now(UTC).isoformat()},
                            headers={"Cache-Control": "no-cache"})

    def get_bundle(request: Request) -> JSONResponse:
        username = validate_username(request.path_params["username"])
        cached = live.load_bundle(username)
        if cached is None:
            return error_response(404, f"No valid bundle found for '{username}'")
        return JSONResponse({
            "username": username,
            "fingerprint": cached.fingerprint,
            "last_modified": cached.last_modified.isoformat(),
            "size_bytes": cached.size_bytes,
            "data": cached.data,
        })

    def get_repo(request: Request) -> JSONResponse:
        username = validate_username(request.path_params["username"])
        repo = validate_repo_name(request.path_params["repo"])
        cached = live.load_record(username, repo)
        if cached is None:
            return error_response(404, f"No valid repository data found for '{repo}' by user '{username}'")
        return JSONResponse({
            "username": username,
            "repo": repo,
            "fingerprint": cached.fingerprint,
            "last_modified": cached.last_modified.isoformat(),
            "size_bytes": cached.size_bytes,
            "data": cached.data,
        })

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/bundles/{username}", get_bundle, methods=["GET"]),
        Route("/bundles/{username}/{repo}", get_repo, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
