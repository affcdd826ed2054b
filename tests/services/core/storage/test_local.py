"""Local backend specifics: everything stays under its root, foreign files are not blobs."""

from __future__ import annotations

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
