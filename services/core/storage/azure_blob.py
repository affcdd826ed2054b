"""Azure Blob Storage backend (``azure-storage-blob``), used in production and tested on Azurite.

Authentication is either a connection string or an account URL with ``DefaultAzureCredential``
(managed identity in Azure). Conditional writes map onto Blob's own: ``create_only`` is
``If-None-Match: *`` (409 ``BlobAlreadyExists``), ``if_match`` is ``If-Match: <etag>`` (412).
The container is created on first use.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobBlock, BlobPrefix, BlobServiceClient, ContentSettings, LinearRetry

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

#: Bytes per staged block when a blob is written from a stream of chunks.
BLOCK_SIZE = 4 * 1024 * 1024

log = logging.getLogger("cloudfolio.storage")


class AzureBlobBackend(StorageBackend):
    """Blobs in one Azure Storage container.

    Parameters:
      container(str): the container name, created when missing.
      connection_string(str | None): a storage connection string (Azurite, or key-based access).
      account_url(str | None): ``https://<account>.blob.core.windows.net``, used with
        ``DefaultAzureCredential`` when no connection string is given.
      api_version(str | None): pin the REST API version (for emulators); the SDK's default if None.
      timeout(float): seconds to connect and to wait for an answer, per attempt. Defaults to 3.
      block_size(int): bytes per staged block of a streamed body; a stream that fits one block is
        written with one atomic Put Blob. Defaults to 4 MiB.
      retries(int): retries of a failed attempt, 0.5 s apart. Defaults to 1. With the SDK's own
        policy (15 s first backoff, 3 retries, no timeouts) an outage held requests for 87 s; with
        these an unreachable account answers in ``timeout * (retries + 1)`` plus the backoff.
    """

    name = "azure"

    def __init__(
        self,
        container: str,
        *,
        connection_string: str | None = None,
        account_url: str | None = None,
        api_version: str | None = None,
        timeout: float = 3.0,
        retries: int = 1,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        self.block_size = block_size
        options: dict[str, Any] = {
            "connection_timeout": timeout, "read_timeout": timeout,
            "retry_policy": LinearRetry(backoff=0.5, retry_total=retries, random_jitter_range=0.25),
        }
        if api_version:
            options["api_version"] = api_version
        if connection_string:
            service = BlobServiceClient.from_connection_string(connection_string, **options)
        elif account_url:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(account_url, credential=DefaultAzureCredential(), **options)
        else:
            raise ValueError("AzureBlobBackend needs a connection string or an account URL")
        self._service = service
        self._container = service.get_container_client(container)
        self._container_ready = False
        self.container_name = container

    def __repr__(self) -> str:
        return f"AzureBlobBackend(container={self.container_name!r}, url={self._service.url!r})"

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageUnavailable(f"cannot reach blob container {self.container_name}: {exc}") from exc
        self._container_ready = True

    @staticmethod
    def _info(key: str, props: Any, size: int | None = None) -> BlobInfo:
        return BlobInfo(
            key=key,
            size=props.size if size is None else size,
            etag=props.etag,
            last_modified=props.last_modified,
            metadata=dict(props.metadata or {}),
        )

    def get(self, key: str) -> StoredBlob:
        self._ensure_container()
        try:
            downloader = self._container.download_blob(validate_key(key))
            data = downloader.readall()
        except ResourceNotFoundError:
            raise BlobNotFound(key) from None
        except AzureError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc}") from exc
        return StoredBlob(data=data, info=self._info(key, downloader.properties, len(data)))

    def head(self, key: str) -> BlobInfo:
        self._ensure_container()
        try:
            props = self._container.get_blob_client(validate_key(key)).get_blob_properties()
        except ResourceNotFoundError:
            raise BlobNotFound(key) from None
        except AzureError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc}") from exc
        return self._info(key, props)

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
        self._ensure_container()
        blob = self._container.get_blob_client(validate_key(key))
        conditions: dict[str, Any] = {}
        if if_match is not None:
            conditions = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        elif create_only:
            conditions = {"match_condition": MatchConditions.IfMissing}
        try:
            return self._write(key, blob, data, metadata, ContentSettings(content_type=content_type), create_only,
                               conditions)
        except ResourceExistsError:
            raise AlreadyExists(key) from None
        except (ResourceModifiedError, ResourceNotFoundError):
            raise PreconditionFailed(key) from None
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            if status == 412:
                raise PreconditionFailed(key) from None
            if status == 409 and create_only:
                raise AlreadyExists(key) from None
            if getattr(exc, "error_code", None) == "InvalidBlockList" and not conditions:
                return self._superseded(key)
            raise StorageUnavailable(f"cannot write {key}: {exc}") from exc

    def _write(self, key: str, blob: Any, data: bytes | Iterable[bytes], metadata: Metadata,
               settings: ContentSettings, create_only: bool, conditions: dict[str, Any]) -> BlobInfo:
        # a body that fits one block is one Put Blob: atomic, and immune to a concurrent writer's commit
        first, rest = (bytes(data), None) if isinstance(data, bytes | bytearray | memoryview) else \
            self._first_block(iter(data))
        if rest is None:
            clean = validate_metadata(resolve_metadata(metadata))
            result = blob.upload_blob(first, metadata=clean, content_settings=settings, overwrite=not create_only,
                                      **conditions)
            return BlobInfo(key, len(first), result["etag"], result["last_modified"], clean)
        block_ids, size = self._stage_blocks(blob, first, rest)
        clean = validate_metadata(resolve_metadata(metadata))
        result = blob.commit_block_list([BlobBlock(block_id) for block_id in block_ids], metadata=clean,
                                        content_settings=settings, **conditions)
        return BlobInfo(key, size, result["etag"], result["last_modified"], clean)

    def _first_block(self, chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes] | None]:
        """Up to one block of the stream, and the rest of it (None when the stream ended within it)."""
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) > self.block_size:
                return bytes(buffer), chunks
        return bytes(buffer), None

    def _superseded(self, key: str) -> BlobInfo:
        """Another writer committed this key while our blocks were staged, and Azure discarded ours.

        Last complete write wins: theirs is complete and later than our start, exactly as if our
        write had landed first. Report the blob as it is instead of failing.
        """
        log.info("write of %s superseded by a concurrent writer's commit; theirs stands", key)
        return self.head(key)

    def _stage_blocks(self, blob: Any, first: bytes, chunks: Iterable[bytes]) -> tuple[list[str], int]:
        """Upload the stream as blocks of ``block_size`` bytes; nothing is visible until the commit."""
        block_ids: list[str] = []
        buffer = bytearray(first)
        size = len(first)

        def stage(part: bytes) -> None:
            # named by position and content: writers of different bytes never share a block, and a write
            # abandoned before its commit (an unchanged bundle) and then repeated re-stages the same ids,
            # which replace its uncommitted blocks instead of adding to them (a blob may hold 100,000)
            content = hashlib.sha256(part).hexdigest()[:32]
            block_id = base64.b64encode(f"{len(block_ids):08d}-{content}".encode()).decode()
            blob.stage_block(block_id, part)
            block_ids.append(block_id)

        for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            while len(buffer) >= self.block_size:
                stage(bytes(buffer[:self.block_size]))
                del buffer[:self.block_size]
        while len(buffer) >= self.block_size:
            stage(bytes(buffer[:self.block_size]))
            del buffer[:self.block_size]
        if buffer or not block_ids:
            stage(bytes(buffer))
        return block_ids, size

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        self._ensure_container()
        kwargs: dict[str, Any] = {}
        if if_match is not None:
            kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        try:
            self._container.delete_blob(validate_key(key), **kwargs)
        except ResourceNotFoundError:
            return False
        except ResourceModifiedError:
            raise PreconditionFailed(key) from None
        except AzureError as exc:
            if getattr(exc, "status_code", None) == 412:
                raise PreconditionFailed(key) from None
            raise StorageUnavailable(f"cannot delete {key}: {exc}") from exc
        return True

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        self._ensure_container()
        validate_prefix(prefix)
        try:
            for props in self._container.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
                yield self._info(props.name, props)
        except AzureError as exc:
            raise StorageUnavailable(f"cannot list {prefix!r}: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        self._ensure_container()
        validate_prefix(prefix)
        try:
            yield from self._container.list_blob_names(name_starts_with=prefix or None)
        except AzureError as exc:
            raise StorageUnavailable(f"cannot list {prefix!r}: {exc}") from exc

    def folders(self, prefix: str = "") -> Iterator[str]:
        if prefix and not prefix.endswith("/"):
            raise InvalidKey(f"a folder prefix ends in '/': {prefix!r}")
        self._ensure_container()
        validate_prefix(prefix)
        try:  # one listing with a delimiter: the service rolls each folder's blobs into one prefix
            for item in self._container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
                if isinstance(item, BlobPrefix):
                    yield item.name[len(prefix):].rstrip("/")
        except AzureError as exc:
            raise StorageUnavailable(f"cannot list {prefix!r}: {exc}") from exc

    def check(self) -> None:
        self._container_ready = False
        self._ensure_container()

    def close(self) -> None:
        self._service.close()
