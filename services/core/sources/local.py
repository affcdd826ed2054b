"""A repo source backed by a local folder ``<root>/<username>/<repo>/``.

Each repo folder holds any of the four root documents and, optionally:

- ``_repo.json``: the GitHub repo object (id, updated_at, pushed_at, size, default_branch,
  language, description, topics, languages...). Without it, metadata is derived from the folder
  (id from a CRC of ``user/repo``, times from file modification times), so any checkout works.
- ``_tree.tsv``: the repo's file listing (``mode<TAB>type<TAB>size<TAB>path``, as ``git ls-tree
  -r -l`` prints it). Without it, the folder itself is walked.

The embedded default points at the sample portfolio shipped with the package
(:func:`sample_portfolio_root`): the real documents of the legacy default user ``yungryce`` and a
small second user ``octocat``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from services.core.filetypes import categorize_extension, extension_of, language_of_extension
from services.core.names import validate_repo_name, validate_username
from services.core.records import RepoDocuments
from services.core.sources.base import DOCUMENT_PATHS, RepoSource, UserNotFound

log = logging.getLogger("cloudfolio.source")

_PRIVATE_FILES = {"_repo.json", "_tree.tsv"}


def sample_portfolio_root() -> Path:
    """Folder of the sample portfolio shipped as package data."""
    return Path(str(resources.files("services.core").joinpath("sample_portfolio")))


def read_file_text(path: str | Path) -> str | None:
    """The text of a regular file as ``Path.read_text`` gives it (undecodable bytes replaced, line
    endings made ``\\n``), or None where there is none (missing, a folder, a FIFO, a symlink loop).

    One open, one ``fstat``, one read (more only for a file that grew meanwhile): a sync worker reads
    five files per repo from 32 threads, and every system call releases the GIL (``Path.is_file`` +
    ``read_text`` took ten).
    """
    try:
        # O_NONBLOCK: a FIFO named like a document must not block the worker (regular files ignore it)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            return None
        # a regular file answers short only at its end, so a file whose size did not change since the
        # fstat is read in one call, without a second read to see the end; one that grew or shrank (or
        # a read cut at the kernel's 2 GiB limit) is read on to its end
        data = os.read(fd, found.st_size + 1)
        if len(data) != found.st_size:
            rest = [data]
            while chunk := os.read(fd, 65536):
                rest.append(chunk)
            data = b"".join(rest)
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_tree(path: Path) -> list[tuple[str, int]]:
    """``(path, size)`` of every blob in a ``git ls-tree -r -l`` listing file (none when it is missing)."""
    return parse_tree(read_file_text(path) or "")


def parse_tree(listing: str) -> list[tuple[str, int]]:
    """``(path, size)`` of every blob in the text of a ``git ls-tree -r -l`` listing."""
    entries = []
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1] == "blob":
            size = int(parts[2]) if parts[2].strip().isdigit() else 0
            entries.append((parts[3], size))
    return entries


def languages_from_tree(entries: list[tuple[str, int]]) -> dict[str, int]:
    """GitHub-style ``{Language: bytes}`` from file sizes, using Linguist's extension table."""
    totals: dict[str, int] = {}
    for path, size in entries:
        ext = extension_of(path)
        if ext and categorize_extension(ext) in ("programming", "markup"):
            language = language_of_extension(ext)
            if language:
                totals[language] = totals.get(language, 0) + size
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


class LocalSource(RepoSource):
    """Repos from folders on disk.

    Parameters:
      root(str | Path): the folder holding one sub-folder per user.
    """

    name = "local"
    inline_io = True  # folders on disk

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalSource({str(self.root)!r})"

    def _user_dir(self, username: str) -> Path:
        folder = self.root / validate_username(username)
        if not folder.is_dir():
            # the folder is a server detail: it goes to the log, never into a job's reasons
            log.info("no folder %s for user %s", folder, username)
            raise UserNotFound(f"unknown GitHub user {username!r}")
        return folder

    def _tree(self, folder: Path) -> list[tuple[str, int]]:
        listing = read_file_text(os.path.join(folder, "_tree.tsv"))
        if listing is not None:
            return parse_tree(listing)
        entries = []
        for dirpath, dirnames, files in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for filename in sorted(files):
                full = Path(dirpath) / filename
                relative = full.relative_to(folder).as_posix()
                if relative not in _PRIVATE_FILES:
                    entries.append((relative, full.stat().st_size))
        return entries

    def _metadata(self, username: str, folder: Path) -> dict[str, Any]:
        explicit = folder / "_repo.json"
        repo: dict[str, Any] = json.loads(explicit.read_text("utf-8")) if explicit.is_file() else {}
        name = folder.name
        if not repo:
            entries = self._tree(folder)
            newest = max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=0.0)
            stamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            languages = languages_from_tree(entries)
            repo = {
                "id": zlib.crc32(f"{username}/{name}".encode()),
                "created_at": stamp,
                "updated_at": stamp,
                "pushed_at": stamp,
                "size": sum(size for _path, size in entries) // 1024,
                "default_branch": "main",
                "language": next(iter(languages), None),
                "languages": languages,
                "description": None,
                "topics": [],
            }
        repo.setdefault("name", name)
        repo.setdefault("full_name", f"{username}/{name}")
        repo.setdefault("owner", {"login": username, "url": f"https://api.github.com/users/{username}"})
        repo.setdefault("html_url", f"https://github.com/{username}/{name}")
        repo.setdefault("fork", False)
        repo.setdefault("visibility", "public")
        return repo

    def list_repos(self, username: str) -> list[dict[str, Any]]:
        folder = self._user_dir(username)
        repos = [self._metadata(username, child) for child in folder.iterdir() if child.is_dir()]
        return sorted(repos, key=lambda repo: repo["name"].lower())  # GitHub's sort=full_name

    def fetch_documents(self, username: str, repo: Mapping[str, Any]) -> RepoDocuments:
        folder = self._user_dir(username) / validate_repo_name(repo["name"])
        docs = RepoDocuments()
        for field_name, path in DOCUMENT_PATHS.items():
            text = read_file_text(os.path.join(folder, path))  # a string join: pathlib's costs more than the read
            if text is not None:
                setattr(docs, field_name, text)
        entries = self._tree(folder)
        docs.paths = [path for path, _size in entries]
        docs.languages = dict(repo.get("languages") or languages_from_tree(entries))
        return docs

    def users(self) -> list[str]:
        return sorted(child.name for child in self.root.iterdir() if child.is_dir())
