"""Local-folder storage backend: the embedded default, safe with several processes.

Layout under the root folder: ``blobs/<key>`` holds each blob, ``tmp/`` holds writes in progress,
``locks/`` holds the lock stripes for conditional writes and for folders. A blob file is the body
bytes followed by a trailer with etag, metadata and content type (:mod:`blob_file`), so content and
metadata change together in one atomic ``rename``.

- Every write goes to a temp file first, then ``os.replace`` (readers never see a partial blob).
- ``create_only`` uses ``os.link(temp, final)``, which fails if the final name exists: exclusive
  like ``O_EXCL``, and the blob is complete the moment it becomes visible.
- ``if_match`` writes and deletes hold an ``flock`` stripe while they compare etags and rename.
- A delete removes the folders it leaves empty, so keys that are gone (expired jobs) leave nothing
  behind for later listings to walk, each under the folder's lock stripe: a write that keeps finding
  its folder pruned makes it and links into it under that stripe, so no delete can make it fail.
- Etags are random per write, so two writes of equal bytes still differ (as Azure's do).
Durability on power loss is not attempted (no fsync); a crash leaves old or new content, plus at
worst a stray file in ``tmp/``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import stat
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from services.core.storage import blob_file
from services.core.storage.base import (
    AlreadyExists,
    BlobInfo,
    BlobNotFound,
    InvalidKey,
    Metadata,
    PreconditionFailed,
    StorageBackend,
    StorageUnavailable,
    StoredBlob,
    resolve_metadata,
    validate_key,
    validate_metadata,
    validate_prefix,
)
from services.core.storage.lock_stripes import LockStripes

#: Resolved blob folders remembered per backend (a folder is resolved and checked once, not per call).
_FOLDER_CACHE = 1024
#: Heads remembered by file identity (a stat then answers a head without opening the blob).
_HEAD_CACHE = 4096
#: Times a write makes its folder again, unlocked, before it takes the folder's lock (prunes take it too).
_FOLDER_RACES = 3
#: Times a write holding that lock makes the folder (a sibling's delete may prune an empty parent).
_MAKE_TRIES = 20
#: Etags (and temp file names) are 128 random bits from a generator seeded by the OS, and seeded again in
#: a forked child: ``uuid4`` asks the kernel on every write, a system call that releases the GIL.
_ETAGS = random.Random()
os.register_at_fork(after_in_child=_ETAGS.seed)


class LocalBackend(StorageBackend):
    """Blobs as files under ``root``.

    Parameters:
      root(str | Path): the folder to keep everything in; created when missing.
    """

    name = "local"
    inline_io = True  # stats, trailer reads, temp files, renames and links on a local file system

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._locks = self.root / "locks"
        for folder in (self._blobs, self._tmp, self._locks):
            folder.mkdir(parents=True, exist_ok=True)
        self._folders: dict[str, str] = {}
        self._tmp_prefix = f"{self._tmp}/"
        # key -> the blob's path, the (inode, mtime ns, ctime ns, size) of the file a head was read from, and
        # that head: every write is a new file renamed or linked in, so an unchanged identity is an unchanged
        # blob. The path is kept too: the router heads its cached bundles on every GET, and building a path
        # (key checks, folder lookup) cost as much as the stat
        self._heads: dict[str, tuple[str, tuple[int, int, int, int], BlobInfo]] = {}
        self._stripes = LockStripes(self._locks)  # conditional writes and folders (lock_stripes.py)

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        # plain strings, not Path objects: every storage call makes one, and pathlib's joins cost more
        # than the system call the path is for
        folder_key, _, name = validate_key(key).rpartition("/")
        return f"{self._folder(folder_key, key)}/{name}"

    def _folder(self, folder_key: str, key: str) -> str:
        """The blob folder of a key, resolved once: a symlinked folder out of the root is refused."""
        folder = self._folders.get(folder_key)
        if folder is None:
            resolved = (self._blobs / folder_key).resolve() if folder_key else self._blobs
            if resolved != self._blobs and self._blobs not in resolved.parents:
                raise ValueError(f"key {key!r} resolves outside the storage root")
            folder = str(resolved)
            if len(self._folders) >= _FOLDER_CACHE:
                self._folders.clear()
                self._heads.clear()  # they keep paths built from these folders: those are checked again too
            self._folders[folder_key] = folder
        return folder

    # -- reading blob files ------------------------------------------------------------------
    def _open(self, key: str) -> int:
        """An open file descriptor of the blob file of ``key`` (the caller closes it)."""
        path = self._path(key)
        try:
            # O_NOFOLLOW: a blob that is a symlink (planted, never written by us) is not followed out
            return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BlobNotFound(key) from None
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc

    @staticmethod
    def _info(key: str, found: os.stat_result, trailer: dict, body_size: int) -> BlobInfo:
        return BlobInfo(key=key, size=body_size, etag=trailer["etag"],
                        last_modified=datetime.fromtimestamp(found.st_mtime, UTC),
                        metadata=trailer.get("metadata", {}))

    def _read(self, key: str, *, body: bool) -> tuple[os.stat_result, BlobInfo, bytes]:
        """The file's stat, the blob's info and (with ``body``) its bytes, from one open."""
        fd = self._open(key)
        try:
            found = os.fstat(fd)
            if stat.S_ISDIR(found.st_mode):
                raise BlobNotFound(key)
            if body:
                trailer, data = blob_file.read_blob(fd, found.st_size)
                size = len(data)
            else:
                (trailer, size), data = blob_file.read_trailer(fd, found.st_size), b""
            return found, self._info(key, found, trailer, size), data
        except ValueError:  # a foreign or truncated file is not one of our blobs
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc
        finally:
            os.close(fd)

    # -- interface ---------------------------------------------------------------------------
    def get(self, key: str) -> StoredBlob:
        _found, info, data = self._read(key, body=True)
        return StoredBlob(data=data, info=info)

    def head(self, key: str) -> BlobInfo:
        known = self._heads.get(key)  # a key in it was validated when it went in
        path = self._path(key) if known is None else known[0]
        try:
            found = os.stat(path, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror}") from exc
        if known is not None and known[1] == _identity(found):
            return known[2]
        identity, info = self._read_head(key)
        if len(self._heads) >= _HEAD_CACHE:
            self._heads.clear()
        self._heads[key] = (path, identity, info)
        return info

    def _read_head(self, key: str) -> tuple[tuple[int, int, int, int], BlobInfo]:
        """The info in the blob's trailer, and the identity of the file it was read from."""
        found, info, _data = self._read(key, body=False)
        return _identity(found), info

    def put(
        self,
        key: str,
        data: bytes | Iterable[bytes],
        *,
        metadata: Metadata = None,
        content_type: str = "application/json",
        create_only: bool = False,
        if_match: str | None = None,
    ) -> BlobInfo:
        path = self._path(key)
        etag = f"{_ETAGS.getrandbits(128):032x}"  # also names the temp file: one random draw per write
        temp = f"{self._tmp_prefix}{etag}.part"
        moved = False
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                body_size, header = blob_file.write_blob(fd, data, lambda: {
                    "etag": etag, "metadata": validate_metadata(resolve_metadata(metadata)),
                    "content_type": content_type})
                # what we wrote, known without reading it back (the link or rename keeps the inode)
                written = BlobInfo(key, body_size, etag, datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC),
                                   header["metadata"])
            finally:
                os.close(fd)
            moved = self._commit(temp, path, key, create_only=create_only, if_match=if_match)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror}") from exc
        finally:
            if not moved:  # a rename consumed the temp file; a link or a refusal left it
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        return written

    def _commit(self, temp: str, path: str, key: str, *, create_only: bool, if_match: str | None) -> bool:
        """Make the written temp file the blob; True when it was renamed (so it no longer exists)."""
        for _attempt in range(_FOLDER_RACES):
            try:
                return self._link_or_rename(temp, path, key, create_only=create_only, if_match=if_match)
            except FileNotFoundError:  # the first blob of its folder (or a delete just pruned it): make it
                with contextlib.suppress(FileNotFoundError, FileExistsError):  # a prune raced the making
                    os.makedirs(os.path.dirname(path), exist_ok=True)
        # deletes keep emptying and pruning the folder between our making it and linking into it: make
        # it under its lock, which a prune takes too; once it holds our blob no prune can remove it
        with self._stripes.held(key.rpartition("/")[0], folder=True):
            for _attempt in range(_MAKE_TRIES):
                with contextlib.suppress(FileNotFoundError):  # a parent pruned between two of its mkdirs
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    break
            return self._link_or_rename(temp, path, key, create_only=create_only, if_match=if_match)

    def _link_or_rename(self, temp: str, path: str, key: str, *, create_only: bool, if_match: str | None) -> bool:
        if create_only:
            try:
                os.link(temp, path)
            except FileExistsError:
                raise AlreadyExists(key) from None
            return False
        if if_match is not None:
            with self._stripes.held(key):
                if self._current_etag(key) != if_match:
                    raise PreconditionFailed(key)
                os.replace(temp, path)
            return True
        os.replace(temp, path)
        return True

    def _current_etag(self, key: str) -> str | None:
        # read from the file, not the head cache: a freed inode number can come back within the
        # timestamps' granularity with the same size, and a compare-and-swap must never see an old etag
        try:
            return self._read_head(key)[1].etag
        except BlobNotFound:
            return None

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        path = self._path(key)
        if if_match is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
        else:
            with self._stripes.held(key):
                current = self._current_etag(key)
                if current is None:
                    return False
                if current != if_match:
                    raise PreconditionFailed(key)
                os.unlink(path)
        self._prune(Path(path).parent)
        return True

    def _prune(self, folder: Path) -> None:
        """Remove ``folder`` and its parents up to the blob root while they are empty, so that deleted
        jobs leave no folders behind for every later listing to walk (a write racing this makes its
        folder again: :meth:`_commit`)."""
        while folder != self._blobs and self._blobs in folder.parents:
            try:
                with self._stripes.held(folder.relative_to(self._blobs).as_posix(), folder=True):
                    folder.rmdir()
            except OSError:  # not empty (the usual case), or already gone
                return
            folder = folder.parent

    def _keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted. Only folders that can hold such a key are entered: the
        live namespace keeps its records at the root (the legacy cache names), and a walk of the
        whole root for one user's records would read every job's markers too."""
        validate_prefix(prefix)
        folder = prefix.rpartition("/")[0]
        found: list[str] = []
        pending = [(self._blobs / folder if folder else self._blobs, folder)]
        while pending:
            path, relative = pending.pop()
            try:
                with os.scandir(path) as entries:
                    listed = [(entry.name, entry.is_dir(), entry.is_symlink()) for entry in entries]
            except OSError:  # pruned by a delete meanwhile (os.walk skips such folders too)
                continue
            for name, is_dir, is_link in listed:
                key = f"{relative}/{name}" if relative else name
                if not is_dir:
                    if key.startswith(prefix):
                        found.append(key)
                elif not is_link and _may_hold(key + "/", prefix):  # a linked folder is neither listed nor entered
                    pending.append((path / name, key))
        return sorted(found)

    def keys(self, prefix: str = "") -> Iterator[str]:
        return iter(self._keys(prefix))

    def folders(self, prefix: str = "") -> Iterator[str]:
        if prefix and not prefix.endswith("/"):
            raise InvalidKey(f"a folder prefix ends in '/': {prefix!r}")
        validate_prefix(prefix)
        try:
            with os.scandir(self._blobs / prefix if prefix else self._blobs) as entries:
                names = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return iter(())
        # a folder a delete emptied but did not prune yet holds nothing: leave it out like the default
        return (name for name in sorted(names) if self._holds_a_blob(f"{prefix}{name}/"))

    def _holds_a_blob(self, prefix: str) -> bool:
        return any(files for _dirpath, _dirs, files in os.walk(self._blobs / prefix))

    def count(self, prefix: str) -> int:
        return len(self._keys(prefix))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        for key in self._keys(prefix):
            try:
                # not through the head cache: a listing would fill it with every job's markers, each
                # read once, pushing out the heads a process reads again and again (its bundles)
                yield self._read_head(key)[1]
            except BlobNotFound:
                continue  # deleted while we listed

    def close(self) -> None:
        self._stripes.close()

    def check(self) -> None:
        probe = self._tmp / f"ready-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"local storage at {self.root} is not writable: {exc}") from exc


def _may_hold(folder: str, prefix: str) -> bool:
    """Whether keys under ``folder`` (ending in ``/``) can start with ``prefix``."""
    return folder.startswith(prefix) or prefix.startswith(folder)


def _identity(found: os.stat_result) -> tuple[int, int, int, int]:
    return found.st_ino, found.st_mtime_ns, found.st_ctime_ns, found.st_size
