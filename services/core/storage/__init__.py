"""Storage backends: one interface (:class:`StorageBackend`), a local folder and Azure Blob."""

from services.core.storage.base import (
    AlreadyExists,
    BlobInfo,
    BlobNotFound,
    InvalidKey,
    PreconditionFailed,
    StorageBackend,
    StorageError,
    StorageUnavailable,
    StoredBlob,
    validate_key,
)

__all__ = [
    "AlreadyExists",
    "BlobInfo",
    "BlobNotFound",
    "InvalidKey",
    "PreconditionFailed",
    "StorageBackend",
    "StorageError",
    "StorageUnavailable",
    "StoredBlob",
    "validate_key",
]
