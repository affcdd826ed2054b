"""An offline GitHub REST/GraphQL API double on loopback, speaking GitHub's documented responses.

It is the test suite's GitHub, the load tests' GitHub, and a GitHub for local development without
a network or a token (``cloudfolio dev-github``).

It serves a portfolio (users -> repos with metadata, root documents, file tree, languages) with
GitHub's shapes and headers: ``Link`` pagination, ``ETag`` / ``If-None-Match`` -> 304, rate-limit
headers, base64 ``content`` with embedded newlines, ``git/trees?recursive=1`` with ``truncated``,
and GraphQL ``object(expression: "branch:path") { ... on Blob { text } }`` with errors in an
``errors`` array under HTTP 200. Faults are injected per path: a status code, a primary or
secondary rate limit, latency, a hang longer than the client's timeout, malformed base64.

Start it with :func:`start_github_server` (a uvicorn thread on a free port); control it through
the returned :class:`FakeGitHub` object. Every request is logged for assertions.
"""

from __future__ import annotations

from cloudfolio.devserver.github.app import create_app
from cloudfolio.devserver.github.state import FakeGitHub, FakeRepo, Fault, LoggedRequest
from cloudfolio.devserver.threaded import ServerThread

__all__ = ["FakeGitHub", "FakeRepo", "Fault", "LoggedRequest", "create_app", "start_github_server"]


def start_github_server(state: FakeGitHub | None = None, port: int | None = None) -> tuple[FakeGitHub, ServerThread]:
    """Serve ``state`` (a new one by default) on 127.0.0.1 in a thread; its ``base_url`` is set."""
    state = state or FakeGitHub()
    server = ServerThread(create_app(state), port=port).start()
    state.base_url = server.url
    return state, server
