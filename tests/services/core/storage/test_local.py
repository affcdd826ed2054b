"""Local backend specifics: everything stays under its root, foreign files are not blobs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from services.core.storage import BlobNotFound
from services.core.storage.local import LocalBackend


def test_files_stay_under_the_root(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    backend.put("repos_bundle_context_u", b"x")
    assert (tmp_path / "root" / "blobs" / "repos_bundle_context_u").is_file()
    assert not list((tmp_path / "root" / "tmp").iterdir()), "temp files are cleaned up"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def test_a_foreign_file_is_not_a_blob(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    (tmp_path / "blobs" / "stray").write_bytes(b"hello")
    with pytest.raises(BlobNotFound):
        backend.get("stray")
    assert [i.key for i in backend.list()] == []


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "blobs" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError):
        backend.put("link/x", b"1")


def test_check_passes_on_a_writable_root(tmp_path: Path) -> None:
    LocalBackend(tmp_path).check()


class OpenCounting(LocalBackend):
    """Counts the blob files a backend opens and the blob paths it builds."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened = self.paths = 0

    def _open(self, key: str):  # type: ignore[no-untyped-def]
        self.opened += 1
        return super()._open(key)

    def _path(self, key: str) -> str:
        self.paths += 1
        return super()._path(key)


def test_a_head_of_an_unchanged_blob_opens_nothing_and_any_write_is_seen(tmp_path: Path) -> None:
    backend = OpenCounting(tmp_path)
    first = backend.put("bundle", b"one", metadata={"v": "1"})
    assert backend.head("bundle").etag == first.etag
    opened, paths = backend.opened, backend.paths
    assert [backend.head("bundle").etag for _ in range(5)] == [first.etag] * 5
    assert backend.opened == opened, "an unchanged blob is answered from its file's identity"
    assert backend.paths == paths, "a known blob's path is not built again (the router heads one a GET)"
    second = backend.put("bundle", b"two", metadata={"v": "2"}, if_match=first.etag)
    head = backend.head("bundle")
    assert (head.etag, head.metadata, head.size) == (second.etag, {"v": "2"}, 3)
    third = backend.put("bundle", b"two")  # the same bytes again are still a new write
    assert backend.head("bundle").etag == third.etag
    backend.delete("bundle")
    with pytest.raises(BlobNotFound):
        backend.head("bundle")


def test_a_listing_leaves_the_heads_a_process_keeps_reading_cached(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("services.core.storage.local._HEAD_CACHE", 4)
    backend = OpenCounting(tmp_path)
    backend.put("bundle", b"one")
    for repo in range(10):
        backend.put(f"jobs/1/repos/r{repo}", b"x", metadata={"outcome": "completed"})
    backend.head("bundle")
    assert [info.metadata["outcome"] for info in backend.list("jobs/1/repos/")] == ["completed"] * 10
    opened = backend.opened
    backend.head("bundle")
    assert backend.opened == opened, "ten markers read once by a listing pushed the bundle's head out"


def test_a_head_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    backend.put("real", b"data")
    backend.head("real")
    planted = tmp_path / "root" / "blobs" / "planted"
    planted.symlink_to(tmp_path / "root" / "blobs" / "real")
    with pytest.raises(BlobNotFound):
        backend.head("planted")


def test_a_delete_removes_the_folders_it_empties_and_no_others(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    blobs = tmp_path / "blobs"
    for key in ("jobs/a/job.json", "jobs/a/repos/r1", "jobs/b/job.json"):
        backend.put(key, b"{}")
    backend.delete("jobs/a/repos/r1")
    assert not (blobs / "jobs/a/repos").exists() and (blobs / "jobs/a/job.json").is_file()
    backend.delete("jobs/a/job.json")
    assert not (blobs / "jobs/a").exists() and (blobs / "jobs/b").is_dir()
    backend.delete("jobs/b/job.json")
    assert not (blobs / "jobs").exists() and blobs.is_dir(), "the blob root stays"
    assert not backend.delete("jobs/b/job.json"), "deleting what is gone says so"
    backend.put("jobs/a/repos/r1", b"again")
    assert backend.get("jobs/a/repos/r1").data == b"again"


def test_writers_and_deleters_of_one_folder_never_fail_each_other(tmp_path: Path) -> None:
    # each delete prunes the folder the moment it is empty, while the other threads write into it
    backend = LocalBackend(tmp_path)
    errors: list[BaseException] = []

    def churn(n: int) -> None:
        try:
            for i in range(150):
                key = f"jobs/shared/repos/w{n}-{i}"
                backend.put(key, b"x", create_only=i % 2 == 0)
                assert backend.get(key).data == b"x"
                assert backend.delete(key)
        except BaseException as exc:  # a failed assert in a thread is reported by the main one
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not (tmp_path / "blobs" / "jobs").exists(), "the last delete pruned every folder"


def test_a_write_whose_folder_a_delete_prunes_every_time_still_lands(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the worst interleaving, made deterministic: after every making of the folder, another thread's
    # delete prunes it before the write can link into it (seen once under the whole suite's load)
    backend = LocalBackend(tmp_path)
    real_makedirs = os.makedirs
    pruners: list[threading.Thread] = []

    def made_then_pruned(path, exist_ok=False):  # type: ignore[no-untyped-def]
        real_makedirs(path, exist_ok=exist_ok)
        if Path(path).name != "repos":  # os.makedirs making the parents (it calls itself)
            return
        pruner = threading.Thread(target=backend._prune, args=(Path(path),))
        pruners.append(pruner)
        pruner.start()
        pruner.join(timeout=0.5)  # a prune blocked by the writer's folder lock waits until it has linked

    monkeypatch.setattr("services.core.storage.local.os.makedirs", made_then_pruned)
    for n, create_only in enumerate([False, True]):
        backend.put(f"jobs/7/repos/r{n}", b"x", create_only=create_only)
        assert backend.get(f"jobs/7/repos/r{n}").data == b"x"
        assert backend.delete(f"jobs/7/repos/r{n}")
    for pruner in pruners:
        pruner.join(timeout=5)
    assert len(pruners) > 2, "the unlocked attempts lost to the prune"
    assert not (tmp_path / "blobs" / "jobs").exists()


def test_a_listing_enters_only_the_folders_that_can_hold_its_keys(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    storage = LocalBackend(tmp_path)
    for key in ["repo_level_bundle_ann_a", "repo_level_bundle_ann_b", "repo_level_bundle_bob_a",
                "repo_level_bundle_ann_dir/x", "jobs/1/job.json", "jobs/1/repos/a", "models/ann/m.zip"]:
        storage.put(key, b"x")
    scanned: list[str] = []
    real_scandir = os.scandir

    def spying(path):  # type: ignore[no-untyped-def]
        scanned.append(Path(path).relative_to(storage.root / "blobs").as_posix())
        return real_scandir(path)

    monkeypatch.setattr("services.core.storage.local.os.scandir", spying)
    # the live namespace's records sit at the root: one user's listing must not walk every job's markers
    assert list(storage.keys("repo_level_bundle_ann_")) == [
        "repo_level_bundle_ann_a", "repo_level_bundle_ann_b", "repo_level_bundle_ann_dir/x"]
    assert sorted(scanned) == [".", "repo_level_bundle_ann_dir"]
    scanned.clear()
    assert storage.count("jobs/1/") == 2 and sorted(scanned) == ["jobs/1", "jobs/1/repos"]


def test_a_forked_process_draws_etags_of_its_own(tmp_path: Path) -> None:
    # etags come from a seeded generator: a child that kept its parent's state would repeat its etags
    # (and temp file names) in the same folder
    backend = LocalBackend(tmp_path)
    backend.put("warm", b"0")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one write, its etag to the parent, and out without pytest's cleanup
        try:
            os.close(read_end)
            os.write(write_end, backend.put("child", b"1").etag.encode())
        finally:  # whatever happens, never return into a second pytest run (the parent reads nothing)
            os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != backend.put("parent", b"1").etag
