"""The local blob file format: bodies and trailers of any size round-trip, cut files are refused,
and a compare-and-swap never trusts a cached file identity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.core.storage import BlobNotFound, PreconditionFailed, blob_file
from services.core.storage.local import LocalBackend


def test_a_trailer_longer_than_the_tail_read_round_trips(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    metadata = {f"name{index}": "v" * 200 for index in range(40)}  # about 9 KB of trailer
    backend.put("doc", b"body", metadata=metadata)
    assert backend.head("doc").metadata == metadata
    blob = backend.get("doc")
    assert (blob.data, blob.info.metadata) == (b"body", metadata)
    assert [info.metadata for info in backend.list("doc")] == [metadata]


def test_a_streamed_body_of_many_write_chunks_round_trips(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    chunks = [bytes([index % 251]) * 10_000 for index in range(30)]  # 300 KB: several 64 KiB writes
    info = backend.put("bundle", iter(chunks), metadata=lambda: {"count": str(len(chunks))})
    assert info.size == 300_000
    assert backend.get("bundle").data == b"".join(chunks)
    assert backend.head("bundle").size == 300_000


@pytest.mark.parametrize("cut", [1, blob_file.FOOTER.size, 40])
def test_a_blob_file_cut_short_is_not_a_blob(tmp_path: Path, cut: int) -> None:
    backend = LocalBackend(tmp_path)
    backend.put("doc", b"x" * 100, metadata={"v": "1"})
    path = tmp_path / "blobs" / "doc"
    os.truncate(path, path.stat().st_size - cut)
    with pytest.raises(BlobNotFound):
        backend.get("doc")
    with pytest.raises(BlobNotFound):
        backend.head("doc")


def test_a_short_write_writes_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.writev

    def at_most_seven_bytes(fd: int, buffers: list[memoryview]) -> int:
        return real(fd, [memoryview(buffers[0])[:7]])

    monkeypatch.setattr(os, "writev", at_most_seven_bytes)
    backend = LocalBackend(tmp_path)
    backend.put("doc", b"0123456789" * 5, metadata={"v": "1"})
    monkeypatch.undo()
    blob = backend.get("doc")
    assert (blob.data, blob.info.metadata) == (b"0123456789" * 5, {"v": "1"})


def test_a_colliding_file_identity_never_lets_a_stale_etag_win(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # a freed inode number reused within the timestamps' granularity, at the same size, looks unchanged
    monkeypatch.setattr("services.core.storage.local._identity", lambda found: (1, 2, 3, 4))
    backend = LocalBackend(tmp_path)
    first = backend.put("job", b"v1")
    assert backend.head("job").etag == first.etag  # now cached under the colliding identity
    second = backend.put("job", b"v2", if_match=first.etag)
    assert backend.head("job").etag == first.etag, "the head cache is fooled: the premise of this test"
    with pytest.raises(PreconditionFailed):
        backend.put("job", b"v3", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        backend.delete("job", if_match=first.etag)
    assert backend.get("job").data == b"v2"
    backend.put("job", b"v3", if_match=second.etag)
    assert backend.get("job").data == b"v3"
