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
