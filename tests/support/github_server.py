"""A GitHub REST/GraphQL API test server on loopback, speaking GitHub's documented responses.

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

import asyncio
import base64
import copy
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.core.sources.local import LocalSource


@dataclass
class FakeRepo:
    meta: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    tree: list[tuple[str, int]] = field(default_factory=list)
    truncate_tree_at: int | None = None


@dataclass
class Fault:
    """A fault applied to requests whose path matches ``pattern``, ``times`` times (None: always)."""

    pattern: str
    kind: str  # status | primary_rate_limit | secondary_rate_limit | latency | hang | bad_base64 | graphql_error
    status: int = 500
    seconds: float = 0.0
    times: int | None = 1
    method: str | None = None


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0


class FakeGitHub:
    """State of the test server: users, repos, faults and the request log."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, FakeRepo]] = {}
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self.latency = 0.0
        self.rate_limit_remaining = 5000
        self.lock = threading.Lock()
        self.listings: dict[str, int] = {}
        self.mutations: list[tuple[str, int, str, str]] = []  # (user, after n listings, repo, pushed_at)
        self.base_url = ""

    # -- portfolio set-up --------------------------------------------------------------------
    def load_local(self, root: Path, users: list[str] | None = None) -> None:
        source = LocalSource(root)
        for username in users or source.users():
            for meta in source.list_repos(username):
                docs = source.fetch_documents(username, meta)
                files = {}
                for attr, path in (("repo_context", ".repo-context.json"), ("readme", "README.md"),
                                   ("skills_index", "SKILLS-INDEX.md"), ("architecture", "ARCHITECTURE.md")):
                    if getattr(docs, attr) is not None:
                        files[path] = getattr(docs, attr)
                tree = [(p, 100) for p in docs.paths]
                self.add_repo(username, meta, files=files, tree=tree)

    def add_repo(self, username: str, meta: dict[str, Any], *, files: dict[str, str] | None = None,
                 tree: list[tuple[str, int]] | None = None) -> FakeRepo:
        meta = copy.deepcopy(meta)
        meta.setdefault("owner", {"login": username, "url": f"https://api.github.com/users/{username}"})
        repo = FakeRepo(meta=meta, files=dict(files or {}), tree=list(tree or [(p, 10) for p in (files or {})]))
        with self.lock:
            self.users.setdefault(username, {})[meta["name"]] = repo
        return repo

    def add_generated_user(self, username: str, count: int, *, documented: bool = True) -> None:
        for index in range(count):
            name = f"repo-{index:04d}"
            files = {}
            if documented:
                files = {
                    "README.md": f"# {name}\n\nGenerated repo {index} of {username}.\n",
                    ".repo-context.json": json.dumps({
                        "project_identity": {"name": name, "description": f"repo {index}"},
                        "tech_stack": {"primary": ["Python"]},
                    }),
                }
            self.add_repo(username, {
                "id": 5_000_000 + index, "name": name, "updated_at": "2025-01-01T00:00:00Z",
                "pushed_at": "2025-01-01T00:00:00Z", "size": 10 + index, "default_branch": "main",
                "language": "Python", "description": f"repo {index}", "topics": [],
            }, files=files, tree=[("main.py", 120), ("README.md", 40)])

    def repo(self, username: str, name: str) -> FakeRepo:
        return self.users[username][name]

    def mutate_after_listings(self, username: str, listings: int, repo: str, pushed_at: str) -> None:
        """After the user's repos were listed ``listings`` times, simulate a push to ``repo``."""
        with self.lock:
            self.mutations.append((username, listings, repo, pushed_at))

    def _listed(self, username: str) -> None:
        with self.lock:
            self.listings[username] = self.listings.get(username, 0) + 1
            due = [m for m in self.mutations if m[0] == username and m[1] == self.listings[username]]
        for _user, _n, repo, pushed_at in due:
            self.touch(username, repo, pushed_at)

    def touch(self, username: str, name: str, pushed_at: str) -> None:
        """Simulate a push: change pushed_at and updated_at (the fingerprint changes)."""
        with self.lock:
            meta = self.users[username][name].meta
            meta["pushed_at"] = pushed_at
            meta["updated_at"] = pushed_at

    # -- faults and log ----------------------------------------------------------------------
    def inject(self, pattern: str, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(pattern=pattern, kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.latency = 0.0
            self.mutations.clear()

    def requests_to(self, pattern: str, method: str | None = None) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.log if re.search(pattern, r.path) and (method is None or r.method == method)]

    def take_fault(self, path: str, method: str, kinds: set[str] | None = None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                if kinds is not None and fault.kind not in kinds:
                    continue
                if fault.times is not None and fault.times <= 0:
                    continue
                if re.search(fault.pattern, path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest() + '"'


def _b64_with_newlines(text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode()
    return "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"


def create_app(state: FakeGitHub) -> Starlette:
    def rate_headers() -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(state.rate_limit_remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
        }

    def json_answer(request: Request, payload: Any, status: int = 200, headers: dict[str, str] | None = None,
                    conditional: bool = True) -> Response:
        body = json.dumps(payload).encode()
        all_headers = {**rate_headers(), **(headers or {})}
        if conditional and status == 200:
            etag = _etag(body)
            all_headers["ETag"] = etag
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers=all_headers)
        return Response(body, status_code=status, headers=all_headers, media_type="application/json")

    def not_found() -> JSONResponse:
        return JSONResponse({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                            status_code=404, headers=rate_headers())

    async def apply_faults(request: Request) -> Response | None:
        path, method = request.url.path, request.method
        if state.latency:
            await asyncio.sleep(state.latency)
        fault = state.take_fault(path, method, {"status", "primary_rate_limit", "secondary_rate_limit",
                                                "latency", "hang"})
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
                                headers=rate_headers())
        if fault.kind == "primary_rate_limit":
            headers = {**rate_headers(), "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time() + fault.seconds))}
            return JSONResponse({"message": "API rate limit exceeded"}, status_code=fault.status or 403,
                                headers=headers)
        # secondary rate limit
        return JSONResponse({"message": "You have exceeded a secondary rate limit."}, status_code=fault.status or 403,
                            headers={**rate_headers(), "Retry-After": str(int(fault.seconds))})

    def find_repo(request: Request) -> FakeRepo | None:
        user = state.users.get(request.path_params["owner"])
        return user.get(request.path_params["repo"]) if user else None

    async def list_repos(request: Request) -> Response:
        user = state.users.get(request.path_params["username"])
        if user is None:
            return not_found()
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
            state._listed(request.path_params["username"])
        return answer

    async def contents(request: Request) -> Response:
        repo = find_repo(request)
        path = request.path_params["path"]
        if repo is None or path not in repo.files:
            return not_found()
        text = repo.files[path]
        content = _b64_with_newlines(text)
        if state.take_fault(request.url.path, "GET", {"bad_base64"}):
            content = "!!not*base64!!\n" + content
        return json_answer(request, {
            "type": "file", "encoding": "base64", "name": path.rsplit("/", 1)[-1], "path": path,
            "size": len(text.encode()), "sha": hashlib.sha1(text.encode()).hexdigest(), "content": content,
        })

    async def tree(request: Request) -> Response:
        repo = find_repo(request)
        if repo is None:
            return not_found()
        entries = [{"path": p, "mode": "100644", "type": "blob", "size": s,
                    "sha": hashlib.sha1(p.encode()).hexdigest()} for p, s in repo.tree]
        truncated = repo.truncate_tree_at is not None and len(entries) > repo.truncate_tree_at
        if truncated:
            entries = entries[: repo.truncate_tree_at]
        return json_answer(request, {"sha": "0" * 40, "url": str(request.url), "tree": entries,
                                     "truncated": truncated})

    async def languages(request: Request) -> Response:
        repo = find_repo(request)
        if repo is None:
            return not_found()
        return json_answer(request, repo.meta.get("languages") or {})

    async def graphql(request: Request) -> Response:
        payload = await request.json()
        if state.take_fault(request.url.path, "POST", {"graphql_error"}):
            return JSONResponse({"data": None, "errors": [{"type": "RATE_LIMITED", "message": "API rate limit"}]},
                                headers=rate_headers())
        variables = payload.get("variables", {})
        user = state.users.get(variables.get("owner", ""), {})
        repo = user.get(variables.get("name", ""))
        if repo is None:
            return JSONResponse({"data": {"repository": None}, "errors": [
                {"type": "NOT_FOUND", "path": ["repository"], "message": "Could not resolve to a Repository"}]},
                headers=rate_headers())
        answer = {}
        for alias, expression in re.findall(r'(\w+)\s*:\s*object\(expression:\s*"([^"]+)"\)', payload["query"]):
            _branch, _, path = expression.partition(":")
            text = repo.files.get(path)
            answer[alias] = None if text is None else {"text": text, "isBinary": False, "isTruncated": False}
        return JSONResponse({"data": {"repository": answer}}, headers=rate_headers())

    routes = [
        Route("/users/{username}/repos", list_repos),
        Route("/repos/{owner}/{repo}/contents/{path:path}", contents),
        Route("/repos/{owner}/{repo}/git/trees/{branch}", tree),
        Route("/repos/{owner}/{repo}/languages", languages),
        Route("/graphql", graphql, methods=["POST"]),
    ]
    inner = Starlette(routes=routes)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        request = Request(scope, receive)
        entry = LoggedRequest(request.method, request.url.path, request.url.query, dict(request.headers))
        with state.lock:
            state.log.append(entry)
        status_holder: dict[str, int] = {}

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        faulted = await apply_faults(request)
        if faulted is not None:
            await faulted(scope, receive, capture)
        else:
            await inner(scope, receive, capture)
        entry.status = status_holder.get("status", 0)

    return app  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Runs an ASGI app with uvicorn in a daemon thread on 127.0.0.1."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_github_server(state: FakeGitHub | None = None) -> tuple[FakeGitHub, ServerThread]:
    state = state or FakeGitHub()
    server = ServerThread(create_app(state)).start()
    state.base_url = server.url
    return state, server
