"""The dashboard's sign-in: a session cookie signed with the admin token, and CSRF tokens tied to it.

Signing in with the admin token (``POST /dashboard/login``) sets ``cloudfolio_dashboard`` to
``<expiry>.<HMAC-SHA256(admin token, expiry)>``: the token itself never goes into the cookie, a
changed admin token ends every session, and nothing is kept on the server. The cookie is
``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page sends it), scoped to
``/dashboard`` and ``Secure`` when the page was served over HTTPS. A session lasts
:data:`SESSION_SECONDS`.

Every control is a form post carrying a CSRF token, ``HMAC(admin token, "csrf:" + cookie)``, checked in
constant time, and the request's ``Origin`` (when the browser sends one) must be this router's own.
A bearer header (``Authorization: Bearer <admin token>``) works too, for scripts; it needs no CSRF
token, since no browser adds it on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from router.auth import require_admin

COOKIE = "cloudfolio_dashboard"
COOKIE_PATH = "/dashboard"
#: How long a dashboard session lasts (12 hours: a working day).
SESSION_SECONDS = 12 * 3600


def _sign(token: str, text: str) -> str:
    return hmac.new(token.encode(), text.encode(), hashlib.sha256).hexdigest()


def new_session(token: str, clock: Callable[[], float] = time.time) -> str:
    expiry = str(int(clock()) + SESSION_SECONDS)
    return f"{expiry}.{_sign(token, 'session:' + expiry)}"


def session_is_valid(value: str, token: str, clock: Callable[[], float] = time.time) -> bool:
    expiry, _, signature = value.partition(".")
    if not token or not expiry.isdigit() or not signature:
        return False
    return hmac.compare_digest(signature, _sign(token, "session:" + expiry)) and int(expiry) > clock()


def csrf_token(session: str, token: str) -> str:
    return _sign(token, "csrf:" + session)


def set_session_cookie(response: Response, request: Request, session: str) -> None:
    response.set_cookie(COOKIE, session, max_age=SESSION_SECONDS, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def signed_in(request: Request, token: str) -> str | None:
    """Who is acting when the request is signed in (a valid cookie or the bearer token), else None.

    Raises 403 when the admin API is disabled (no token configured) and for a wrong bearer token."""
    if not token:
        raise HTTPException(403, "the dashboard is disabled: set CLOUDFOLIO_ADMIN_TOKEN to enable it")
    if request.headers.get("authorization"):
        return require_admin(request, token)
    if session_is_valid(request.cookies.get(COOKIE, ""), token):
        return f"dashboard@{request.client.host if request.client else 'unknown'}"
    return None


def check_control(request: Request, token: str, form_csrf: str) -> None:
    """403 unless a control's post is the signed-in browser's own: the Origin and the CSRF token."""
    if request.headers.get("authorization"):
        return  # a bearer token is never sent by a browser on its own
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-origin post refused")
    expected = csrf_token(request.cookies.get(COOKIE, ""), token)
    if not form_csrf or not hmac.compare_digest(form_csrf.encode(), expected.encode()):
        raise HTTPException(403, "missing or invalid CSRF token: reload the dashboard and try again")
