"""``SecurityHeaders``: the headers every answer carries, and the stricter ones every page carries.

Every answer: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``. HTML pages
also: a Content-Security-Policy that allows scripts and styles from this origin only (no inline
script, no CDN), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` (no framing). A header
the endpoint set itself is kept (the dashboard's ``Referrer-Policy: same-origin``, so that its form
posts carry their ``Origin``: under ``no-referrer`` a browser sends ``Origin: null``). It takes no
parameters.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
PAGES = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present, page = set(), False
                for name, value in headers:  # one pass: this runs on every answer
                    name = name.lower()
                    present.add(name)
                    page = page or (name == b"content-type" and value.startswith(b"text/html"))
                headers += [(name, value) for name, value in (ALWAYS + PAGES if page else ALWAYS)
                            if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
