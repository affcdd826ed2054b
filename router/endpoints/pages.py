"""The HTML pages: ``GET /portfolio/{username}`` and its assets under ``/static/``.

The assets are files of the package (``router/static``), read once and served with a validator so
a browser revalidates instead of downloading them again.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from router.conditional import client_has
from router.endpoints.declarations import BAD_NAME
from router.openapi import EMPTY, TEXT, Operation, documented
from router.pages.portfolio import ASSETS, portfolio_page
from services.core.names import validate_username


@documented(get=Operation(
    "The portfolio page", {200: TEXT, **BAD_NAME}, media_type="text/html",
    description="A reference front end over the public API: the bundle's repos as cards, a refresh with a progress "
                "bar (polling the job every 2 s), the reasons and a retry button on failure, and a search box."))
async def portfolio(request: Request) -> Response:
    username = validate_username(request.path_params["username"])
    return HTMLResponse(portfolio_page(username), headers={"Cache-Control": "no-cache"})


@cache
def _asset(name: str) -> tuple[bytes, str]:
    data = resources.files("router").joinpath("static", name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _serve(request: Request, name: str) -> Response:
    data, etag = _asset(name)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if client_has(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=ASSETS[name], headers=headers)


@documented(get=Operation("The portfolio page's script", {200: TEXT, 304: EMPTY},
                          media_type=ASSETS["portfolio.js"]))
async def portfolio_script(request: Request) -> Response:
    return _serve(request, "portfolio.js")


@documented(get=Operation("The dashboard's script", {200: TEXT, 304: EMPTY}, media_type=ASSETS["dashboard.js"]))
async def dashboard_script(request: Request) -> Response:
    return _serve(request, "dashboard.js")


@documented(get=Operation("The pages' style sheet", {200: TEXT, 304: EMPTY}, media_type=ASSETS["pages.css"]))
async def style_sheet(request: Request) -> Response:
    return _serve(request, "pages.css")
