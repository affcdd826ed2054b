"""Twenty writers of one key at once, on Azurite: no writer fails, and one complete write wins.

Azure discards a writer's staged blocks when another writer commits the same blob ("The specified
block list is invalid" for the first). Bodies that fit one block are written with one atomic Put
Blob; a larger stream superseded by a concurrent commit reports the blob that won.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.core.storage.azure_blob import AzureBlobBackend

pytestmark = pytest.mark.integration
WRITERS = 20


def payload(writer: int, blocks: int) -> list[bytes]:
    return [f"{writer:02d}:{index:04d}:".encode() + b"x" * 1000 for index in range(blocks)]


@pytest.mark.parametrize("blocks", [1, 12], ids=["one-block bodies", "multi-block streams"])
def test_concurrent_writers_of_one_key_all_succeed_and_one_complete_write_wins(
    azurite_connection_string: str, blocks: int
) -> None:
    backend = AzureBlobBackend(f"conc-{uuid.uuid4().hex[:10]}", connection_string=azurite_connection_string,
                               block_size=1024 if blocks > 1 else 64 * 1024)

    def write(writer: int) -> str:
        chunks: Iterator[bytes] = iter(payload(writer, blocks))
        return backend.put("shared/bundle", chunks, metadata=lambda: {"writer": str(writer)}).etag

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            etags = list(pool.map(write, range(WRITERS)))  # any writer failing raises here
        assert len(etags) == WRITERS and all(etags)
        stored = backend.get("shared/bundle")
        winner = int(stored.info.metadata["writer"])
        assert stored.data == b"".join(payload(winner, blocks)), "the body is one writer's, whole"
    finally:
        backend.close()


def test_a_multi_block_write_abandoned_and_repeated_does_not_pile_up_staged_blocks(
        azurite_connection_string: str) -> None:
    from azure.storage.blob import BlobServiceClient

    container = f"abandon-{uuid.uuid4().hex[:10]}"
    backend = AzureBlobBackend(container, connection_string=azurite_connection_string, block_size=1024)

    def refuse() -> dict[str, str]:
        raise RuntimeError("abandoned")

    try:
        backend.put("shared/bundle", iter(payload(0, 6)), metadata={"writer": "0"})
        for _ in range(3):  # the same bytes again, abandoned before the commit each time
            with pytest.raises(RuntimeError):
                backend.put("shared/bundle", iter(payload(0, 6)), metadata=refuse)
        blob = BlobServiceClient.from_connection_string(azurite_connection_string) \
            .get_blob_client(container, "shared/bundle")
        committed, uncommitted = blob.get_block_list("all")
        assert len(committed) >= 6 and len(uncommitted) <= len(committed), (len(committed), len(uncommitted))
        assert backend.get("shared/bundle").data == b"".join(payload(0, 6))
    finally:
        backend.close()
