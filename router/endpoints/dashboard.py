"""The operator dashboard: ``GET /dashboard``, its sign-in and sign-out, and its controls.

Signed out (no valid session cookie, no bearer token), ``GET /dashboard`` answers 401 with the
sign-in form and no data. ``POST /dashboard/login`` checks the admin token and sets the session
cookie (:mod:`router.pages.session`); controls post to ``/dashboard/actions/{action}`` with a
reason and the CSRF token and are redirected back (303) with a fixed notice. Form bodies are read
within the body limit and parsed as ``application/x-www-form-urlencoded``.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from router.endpoints.declarations import DEPENDENCIES
from router.openapi import EMPTY, TEXT, Operation, Query, documented
from router.pages.controls import ACTIONS, run_control
from router.pages.dashboard import NOTICES, dashboard_page, login_page
from router.pages.dashboard_data import gather
from router.pages.session import (
    COOKIE,
    check_control,
    clear_session_cookie,
    csrf_token,
    new_session,
    set_session_cookie,
    signed_in,
)
from router.routing import context_of

log = logging.getLogger("cloudfolio.dashboard")
#: Operational data is never cached; same-origin referrers make the browser send the Origin that
#: :func:`router.pages.session.check_control` checks (under no-referrer it sends ``Origin: null``).
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
SIGNED_OUT = {401: TEXT, 403: "Error"}
#: What a form post can be refused for before it is read: not UTF-8, too large.
FORM = {400: "Error", 413: "Error"}


async def _form(request: Request) -> dict[str, str]:
    try:
        # the body limit (CLOUDFOLIO_MAX_BODY_BYTES) bounds the fields; unknown ones are ignored
        fields = parse_qs((await request.body()).decode("utf-8"))
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


def _back(notice: str) -> Response:
    return RedirectResponse(f"/dashboard?notice={notice}", status_code=303, headers=NO_STORE)


@documented(get=Operation(
    "The operator dashboard", {200: TEXT, **SIGNED_OUT}, media_type="text/html",
    query=(Query("notice", {"type": "string"}, description="what the last control did: "
                                                          + ", ".join(sorted(NOTICES)) + " (others show nothing)"),),
    description="The rollout's stage, flags, lock and last changes; requests, errors and p95 per path over 15 "
                "minutes; shadow verdicts and divergences with their repo diffs; queue depths; recent jobs. Needs "
                "the admin token: a session cookie from the sign-in form, or the bearer header."))
async def dashboard(request: Request) -> Response:
    context = context_of(request)
    token = context.settings.admin_token
    if signed_in(request, token) is None:
        return HTMLResponse(login_page(), status_code=401, headers=NO_STORE)
    data = await run_in_threadpool(gather, context)
    csrf = csrf_token(request.cookies.get(COOKIE, ""), token)
    return HTMLResponse(dashboard_page(data, csrf, request.query_params.get("notice", "")), headers=NO_STORE)


@documented(post=Operation("Sign in to the dashboard", {303: EMPTY, 401: TEXT, 403: "Error", **FORM},
                           media_type="text/html",
                           form=("token",), description="Sets the session cookie and redirects to `/dashboard`."))
async def login(request: Request) -> Response:
    context = context_of(request)
    token = context.settings.admin_token
    if not token:
        raise HTTPException(403, "the dashboard is disabled: set CLOUDFOLIO_ADMIN_TOKEN to enable it")
    given = (await _form(request)).get("token", "")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        log.warning("dashboard sign-in refused from %s", request.client.host if request.client else "unknown")
        return HTMLResponse(login_page("That is not the admin token."), status_code=401, headers=NO_STORE)
    response = RedirectResponse("/dashboard", status_code=303, headers=NO_STORE)
    set_session_cookie(response, request, new_session(token))
    return response


@documented(post=Operation("Sign out of the dashboard", {303: EMPTY, 403: "Error", **FORM},
                           media_type="text/html", form=("csrf",)))
async def logout(request: Request) -> Response:
    token = context_of(request).settings.admin_token
    if signed_in(request, token) is not None:
        check_control(request, token, (await _form(request)).get("csrf", ""))
    response = RedirectResponse("/dashboard", status_code=303, headers=NO_STORE)
    clear_session_cookie(response, request)
    return response


@documented(post=Operation(
    "A dashboard control: pause the plan, roll back, re-enable", {303: EMPTY, 401: "Error", 403: "Error",
                                                                  404: "Error", **FORM, **DEPENDENCIES},
    media_type="text/html", form=("reason", "csrf"),
    description="Runs the CLI's rule with the reason (kept in the flag store's history) and redirects to "
                "`/dashboard?notice=...`. Needs the session and its CSRF token, or the bearer header."))
async def control(request: Request) -> Response:
    context = context_of(request)
    token = context.settings.admin_token
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise HTTPException(404, f"no such control {action!r}; known: {', '.join(ACTIONS)}")
    actor = signed_in(request, token)
    if actor is None:
        raise HTTPException(401, "sign in to the dashboard first")
    form = await _form(request)
    check_control(request, token, form.get("csrf", ""))
    notice = await run_in_threadpool(run_control, context, action, actor=actor, reason=form.get("reason", ""))
    return _back(notice)
