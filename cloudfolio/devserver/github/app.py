"""The GitHub double's HTTP API: module-level endpoints reading :class:`FakeGitHub` from ``app.state``.

Routes are GitHub's: ``/users/{username}/repos`` (``Link`` pagination), ``/repos/{o}/{r}/contents/
{path}`` (base64 with embedded newlines), ``/repos/{o}/{r}/git/trees/{branch}``, ``/repos/{o}/{r}/
languages`` and ``POST /graphql`` (blobs by ``object(expression:)`` and the ``languages`` connection,
largest first). Every 200 carries an ``ETag`` and answers a matching
``If-None-Match`` with 304; every answer carries the rate-limit headers. :class:`FaultsAndLog` (a
pure ASGI middleware) logs each request with its status and applies the injected faults first.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import re
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudfolio.devserver.github.state import FakeGitHub, FakeRepo, LoggedRequest

#: Faults applied before routing (the rest are applied by the endpoints they concern).
REQUEST_FAULTS = frozenset({"status", "primary_rate_limit", "secondary_rate_limit", "latency", "hang"})


def _state(request: Request) -> FakeGitHub:
    return request.app.state.github


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest() + '"'


def _b64_with_newlines(text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode()
    return "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"


def rate_headers(state: FakeGitHub) -> dict[str, str]:
    reset = state.rate_limit_reset if state.rate_limit_reset is not None else time.time() + 3600
    return {
        "X-RateLimit-Limit": str(state.rate_limit_limit),
        "X-RateLimit-Remaining": str(state.rate_limit_remaining),
        "X-RateLimit-Reset": str(int(reset)),
        "X-RateLimit-Resource": "core",
    }


def json_answer(request: Request, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    all_headers = {**rate_headers(_state(request)), **(headers or {})}
    if status == 200:
        etag = _etag(body)
        all_headers["ETag"] = etag
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=all_headers)
    return Response(body, status_code=status, headers=all_headers, media_type="application/json")


def not_found(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                        status_code=404, headers=rate_headers(_state(request)))


def _find_repo(request: Request) -> FakeRepo | None:
    user = _state(request).users.get(request.path_params["owner"])
    return user.get(request.path_params["repo"]) if user else None


async def list_repos(request: Request) -> Response:
    state = _state(request)
    user = state.users.get(request.path_params["username"])
    if user is None:
        return not_found(request)
    per_page = min(int(request.query_params.get("per_page", 30)), 100)
    page = int(request.query_params.get("page", 1))
    repos = sorted(user.values(), key=lambda r: r.meta["name"].lower())
    chunk = repos[(page - 1) * per_page: page * per_page]
    last = max(1, -(-len(repos) // per_page))
    links = []
    base = f"{state.base_url}/users/{request.path_params['username']}/repos?per_page={per_page}"
    if page < last:
        links.append(f'<{base}&page={page + 1}>; rel="next"')
        links.append(f'<{base}&page={last}>; rel="last"')
    headers = {"Link": ", ".join(links)} if links else {}
    answer = json_answer(request, [copy.deepcopy(r.meta) for r in chunk], headers=headers)
    if page == last:
        state.listed(request.path_params["username"])
    return answer


async def contents(request: Request) -> Response:
    repo = _find_repo(request)
    path = request.path_params["path"]
    if repo is None or path not in repo.files:
        return not_found(request)
    text = repo.files[path]
    content = _b64_with_newlines(text)
    if _state(request).take_fault(request.url.path, "GET", {"bad_base64"}):
        content = "!!not*base64!!\n" + content
    return json_answer(request, {
        "type": "file", "encoding": "base64", "name": path.rsplit("/", 1)[-1], "path": path,
        "size": len(text.encode()), "sha": hashlib.sha1(text.encode()).hexdigest(), "content": content,
    })


async def tree(request: Request) -> Response:
    repo = _find_repo(request)
    if repo is None:
        return not_found(request)
    entries = [{"path": p, "mode": "100644", "type": "blob", "size": s,
                "sha": hashlib.sha1(p.encode()).hexdigest()} for p, s in repo.tree]
    truncated = repo.truncate_tree_at is not None and len(entries) > repo.truncate_tree_at
    if truncated:
        entries = entries[: repo.truncate_tree_at]
    return json_answer(request, {"sha": "0" * 40, "url": str(request.url), "tree": entries, "truncated": truncated})


async def languages(request: Request) -> Response:
    repo = _find_repo(request)
    if repo is None:
        return not_found(request)
    return json_answer(request, repo.meta.get("languages") or {})


async def graphql(request: Request) -> Response:
    state = _state(request)
    payload = await request.json()
    if state.take_fault(request.url.path, "POST", {"graphql_error"}):
        return JSONResponse({"data": None, "errors": [{"type": "RATE_LIMITED", "message": "API rate limit"}]},
                            headers=rate_headers(state))
    variables = payload.get("variables", {})
    repo = state.users.get(variables.get("owner", ""), {}).get(variables.get("name", ""))
    if repo is None:
        return JSONResponse({"data": {"repository": None}, "errors": [
            {"type": "NOT_FOUND", "path": ["repository"], "message": "Could not resolve to a Repository"}]},
            headers=rate_headers(state))
    answer = {}
    for alias, expression in re.findall(r'(\w+)\s*:\s*object\(expression:\s*"([^"]+)"\)', payload["query"]):
        _branch, _, path = expression.partition(":")
        text = repo.files.get(path)
        answer[alias] = None if text is None else {"text": text, "isBinary": False, "isTruncated": False}
    if match := re.search(r"(?:(\w+)\s*:\s*)?languages\(first:\s*(\d+)", payload["query"]):
        answer[match.group(1) or "languages"] = language_connection(repo.meta.get("languages") or {},
                                                                    int(match.group(2)))
    return JSONResponse({"data": {"repository": answer}}, headers=rate_headers(state))


def language_connection(languages: dict[str, int], first: int) -> dict:
    """GitHub's ``LanguageConnection`` ordered by size, largest first: one page of ``first`` edges."""
    ordered = sorted(languages.items(), key=lambda item: -item[1])
    return {"totalCount": len(ordered), "edges": [{"size": size, "node": {"name": name}}
                                                  for name, size in ordered[:first]]}


def limit_answer(state: FakeGitHub, in_flight: int) -> Response | None:
    """GitHub's own limits, when the test set them: concurrent requests, then the hourly budget."""
    if state.secondary_limit is not None and in_flight > state.secondary_limit:
        with state.lock:
            state.secondary_limited += 1
        return JSONResponse({"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
                            status_code=403, headers={**rate_headers(state), "Retry-After": "60"})
    if not state.spend():
        return JSONResponse({"message": "API rate limit exceeded"}, status_code=403, headers=rate_headers(state))
    return None


async def fault_answer(state: FakeGitHub, path: str, method: str) -> Response | None:
    """The answer an injected fault gives instead of the real one (None: serve normally)."""
    if state.latency:
        await asyncio.sleep(state.latency)
    fault = state.take_fault(path, method, REQUEST_FAULTS)
    if fault is None:
        return None
    if fault.kind == "latency":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "hang":
        await asyncio.sleep(fault.seconds)
        return JSONResponse({"message": "too late"}, status_code=504)
    if fault.kind == "status":
        return JSONResponse({"message": f"injected {fault.status}"}, status_code=fault.status,
                            headers=rate_headers(state))
    if fault.kind == "primary_rate_limit":
        headers = {**rate_headers(state), "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(time.time() + fault.seconds))}
        return JSONResponse({"message": "API rate limit exceeded"}, status_code=fault.status or 403, headers=headers)
    return JSONResponse({"message": "You have exceeded a secondary rate limit."}, status_code=fault.status or 403,
                        headers={**rate_headers(state), "Retry-After": str(int(fault.seconds))})


class FaultsAndLog:
    """Logs every request with the status it got, and answers with an injected fault when one matches.

    Parameters:
      app(ASGIApp): the GitHub routes.
      state(FakeGitHub): faults to apply and the log to append to.
    """

    def __init__(self, app: ASGIApp, state: FakeGitHub) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        entry = LoggedRequest(request.method, request.url.path, request.url.query, dict(request.headers))
        with self.state.lock:
            self.state.log.append(entry)

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        with self.state.lock:
            generation = self.state.generation
            self.state.in_flight += 1
            self.state.peak_in_flight = max(self.state.peak_in_flight, in_flight := self.state.in_flight)
        try:
            faulted = limit_answer(self.state, in_flight) or await fault_answer(
                self.state, request.url.path, request.method)
            await (faulted or self.app)(scope, receive, capture)
        finally:
            with self.state.lock:
                if generation == self.state.generation:  # requests from before a clear() are not counted
                    self.state.in_flight -= 1


ROUTES = [
    Route("/users/{username}/repos", list_repos),
    Route("/repos/{owner}/{repo}/contents/{path:path}", contents),
    Route("/repos/{owner}/{repo}/git/trees/{branch}", tree),
    Route("/repos/{owner}/{repo}/languages", languages),
    Route("/graphql", graphql, methods=["POST"]),
]


def create_app(state: FakeGitHub) -> ASGIApp:
    app = Starlette(routes=ROUTES)
    app.state.github = state
    return FaultsAndLog(app, state)
