"""The GitHub double's state: users and repos, injected faults, and the request log.

Tests and tools control the server through one :class:`FakeGitHub`: add users and repos, inject a
fault for paths matching a pattern, simulate a push, read which requests arrived.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.core.sources.local import LocalSource

#: Requests kept in :attr:`FakeGitHub.log`.
MAX_LOGGED = 200_000


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
        #: The most recent requests (bounded, so long soaks keep a flat memory).
        self.log: deque[LoggedRequest] = deque(maxlen=MAX_LOGGED)
        #: Requests started since :meth:`clear` being answered now, and the most there were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        self.generation = 0
        self.latency = 0.0
        self.rate_limit_remaining = 5000
        self.rate_limit_limit = 5000
        self.rate_limit_reset: float | None = None  # None: an hour from each answer
        #: GitHub's secondary limit: requests in flight above it get 403 (None: no limit), and their count.
        self.secondary_limit: int | None = None
        self.secondary_limited = 0
        self.primary_limited = 0
        self._budget: tuple[int, float] | None = None
        self.lock = threading.Lock()
        self.listings: dict[str, int] = {}
        self.mutations: list[tuple[str, int, str, dict[str, Any]]] = []  # (user, after n listings, repo, fields)
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

    def mutate_after_listings(self, username: str, listings: int, repo: str, pushed_at: str | None = None,
                              **fields: Any) -> None:
        """After the user's repos were listed ``listings`` times, simulate a push to ``repo`` (``pushed_at``),
        or change other metadata ``fields`` with no push (``pushed_at`` and ``updated_at`` kept)."""
        changes = {"pushed_at": pushed_at, "updated_at": pushed_at} if pushed_at else {}
        with self.lock:
            self.mutations.append((username, listings, repo, {**changes, **fields}))

    def listed(self, username: str) -> None:
        """Count a complete listing of the user and apply any change due after it."""
        with self.lock:
            self.listings[username] = self.listings.get(username, 0) + 1
            due = [m for m in self.mutations if m[0] == username and m[1] == self.listings[username]]
            for _user, _n, repo, fields in due:
                self.users[username][repo].meta.update(fields)

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

    def set_budget(self, requests: int, window: float) -> None:
        """Spend the primary limit for real: ``requests`` per ``window`` seconds, then 403 until the reset."""
        with self.lock:
            self._budget = (requests, window)
            self.rate_limit_limit = self.rate_limit_remaining = requests
            self.rate_limit_reset = time.time() + window

    def spend(self) -> bool:
        """Count one request against the budget set by :meth:`set_budget`; False when it is spent."""
        with self.lock:
            if self._budget is None or self.rate_limit_reset is None:
                return True
            requests, window = self._budget
            while time.time() >= self.rate_limit_reset:
                self.rate_limit_reset += window
                self.rate_limit_remaining = requests
            if self.rate_limit_remaining <= 0:
                self.primary_limited += 1
                return False
            self.rate_limit_remaining -= 1
            return True

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.log.clear()
            self.in_flight = self.peak_in_flight = 0
            self.generation += 1
            self.latency = 0.0
            self.mutations.clear()
            self.secondary_limit, self.secondary_limited, self.primary_limited = None, 0, 0
            self._budget, self.rate_limit_reset = None, None
            self.rate_limit_limit = self.rate_limit_remaining = 5000

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
