"""One storage test suite, run against the local backend and Azure Blob (on Azurite)."""

from __future__ import annotations

import threading

import pytest

from services.core.storage import AlreadyExists, BlobNotFound, InvalidKey, PreconditionFailed, StorageBackend
from services.core.storage.local import LocalBackend


def test_put_get_head_delete_roundtrip(storage: StorageBackend) -> None:
    info = storage.put("a/b.json", b'{"x":1}', metadata={"username": "u", "fingerprint": "f"})
    assert info.size == 7 and info.etag
    blob = storage.get("a/b.json")
    assert blob.data == b'{"x":1}'
    assert blob.info.metadata == {"username": "u", "fingerprint": "f"}
    assert blob.info.etag == info.etag == storage.head("a/b.json").etag
    assert storage.exists("a/b.json")
    assert storage.delete("a/b.json") is True
    assert storage.delete("a/b.json") is False
    with pytest.raises(BlobNotFound):
        storage.get("a/b.json")
    with pytest.raises(BlobNotFound):
        storage.head("a/b.json")


def test_overwrite_changes_the_etag_even_for_equal_bytes(storage: StorageBackend) -> None:
    first = storage.put("k", b"same")
    second = storage.put("k", b"same")
    assert first.etag != second.etag
    assert storage.get("k").data == b"same"


def test_create_only_refuses_an_existing_key(storage: StorageBackend) -> None:
    storage.put("claim", b"1", create_only=True)
    with pytest.raises(AlreadyExists):
        storage.put("claim", b"2", create_only=True)
    assert storage.get("claim").data == b"1"


def test_replace_if_etag_matches(storage: StorageBackend) -> None:
    info = storage.put("doc", b"v1")
    updated = storage.put("doc", b"v2", if_match=info.etag)
    with pytest.raises(PreconditionFailed):
        storage.put("doc", b"v3", if_match=info.etag)
    assert storage.get("doc").data == b"v2"
    with pytest.raises(PreconditionFailed):
        storage.delete("doc", if_match=info.etag)
    assert storage.delete("doc", if_match=updated.etag) is True


def test_streamed_put_with_metadata_computed_after_the_stream(storage: StorageBackend) -> None:
    seen: list[int] = []

    def chunks():
        for index in range(5):
            seen.append(index)
            yield f"chunk{index};".encode() * 1000

    info = storage.put("stream", chunks(), metadata=lambda: {"count": str(len(seen))})
    blob = storage.get("stream")
    assert blob.data == b"".join(f"chunk{i};".encode() * 1000 for i in range(5))
    assert blob.info.metadata == {"count": "5"}
    assert info.size == len(blob.data)


class Abandon(Exception):
    pass


def test_an_exception_from_the_metadata_callable_publishes_nothing(storage: StorageBackend) -> None:
    before = storage.put("kept", b"the stored blob", metadata={"version": "1"})

    def refuse() -> dict[str, str]:
        raise Abandon

    for body in (b"a new body", iter([b"a new ", b"streamed body"])):
        with pytest.raises(Abandon):
            storage.put("kept", body, metadata=refuse)
        stored = storage.get("kept")
        assert (stored.data, stored.info.etag) == (b"the stored blob", before.etag)
        assert stored.info.metadata == {"version": "1"}
    with pytest.raises(Abandon):
        storage.put("never-written", iter([b"x"]), metadata=refuse)
    assert not storage.exists("never-written")
    if isinstance(storage, LocalBackend):
        assert [p for p in storage.root.rglob("*.part")] == [], "the temp file is removed"


def test_empty_blob(storage: StorageBackend) -> None:
    storage.put("empty", b"")
    assert storage.get("empty").data == b""
    storage.put("empty-stream", iter([]))
    assert storage.get("empty-stream").data == b""


def test_list_by_prefix_in_key_order_with_metadata(storage: StorageBackend) -> None:
    for key in ["jobs/1/repos/b", "jobs/1/repos/a", "jobs/12/x", "jobs/2/repos/c", "other"]:
        storage.put(key, b"x", metadata={"outcome": key[-1]})
    assert [i.key for i in storage.list("jobs/1/")] == ["jobs/1/repos/a", "jobs/1/repos/b"]
    assert [i.key for i in storage.list("jobs/1")] == ["jobs/1/repos/a", "jobs/1/repos/b", "jobs/12/x"]
    assert [i.metadata["outcome"] for i in storage.list("jobs/1/repos/")] == ["a", "b"]
    assert [i.key for i in storage.list("nothing/")] == []
    assert len(list(storage.list())) == 5


def test_keys_and_folders_name_what_is_stored_without_reading_it(storage: StorageBackend) -> None:
    for key in ["jobs/1/repos/b", "jobs/1/job.json", "jobs/12/x", "jobs/2/repos/c", "jobs/top", "other"]:
        storage.put(key, b"x")
    assert list(storage.keys("jobs/1/")) == ["jobs/1/job.json", "jobs/1/repos/b"]
    assert list(storage.keys("jobs/1")) == ["jobs/1/job.json", "jobs/1/repos/b", "jobs/12/x"]
    assert list(storage.keys()) == sorted(info.key for info in storage.list())
    # one name per folder right under the prefix, however deep its blobs; blobs beside them are not folders
    assert list(storage.folders("jobs/")) == ["1", "12", "2"]
    assert list(storage.folders("jobs/1/")) == ["repos"]
    assert list(storage.folders()) == ["jobs"]
    assert list(storage.folders("nothing/")) == []
    storage.delete("jobs/12/x")
    assert list(storage.folders("jobs/")) == ["1", "2"]
    assert storage.count("jobs/") == 4
    with pytest.raises(InvalidKey):
        list(storage.folders("jobs"))
    with pytest.raises(InvalidKey):
        list(storage.folders("../"))


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", "a\x00", ""])
def test_unsafe_keys_are_refused_everywhere(storage: StorageBackend, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put(key, b"x")
    with pytest.raises(InvalidKey):
        storage.get(key)
    with pytest.raises(InvalidKey):
        list(storage.list(key + "/"))


def test_metadata_must_be_ascii_identifiers(storage: StorageBackend) -> None:
    with pytest.raises(InvalidKey):
        storage.put("m", b"x", metadata={"bad-name": "v"})
    with pytest.raises(InvalidKey):
        storage.put("m", b"x", metadata={"name": "ü"})


def test_concurrent_create_only_has_exactly_one_winner(storage: StorageBackend) -> None:
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def contend(index: int) -> None:
        barrier.wait()
        try:
            storage.put("race", str(index).encode(), create_only=True)
            winners.append(index)
        except AlreadyExists:
            pass

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    assert storage.get("race").data == str(winners[0]).encode()


def test_readers_never_see_a_partial_blob(storage: StorageBackend) -> None:
    big_a, big_b = b"a" * 300_000, b"b" * 300_000
    storage.put("flip", big_a)
    stop = threading.Event()
    bad: list[int] = []

    def read() -> None:
        while not stop.is_set():
            data = storage.get("flip").data
            if data not in (big_a, big_b):
                bad.append(len(data))

    reader = threading.Thread(target=read)
    reader.start()
    for index in range(10):
        storage.put("flip", big_b if index % 2 else big_a)
    stop.set()
    reader.join()
    assert bad == []
