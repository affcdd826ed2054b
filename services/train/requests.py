"""Hand-off from the merge to training: a ``train_model`` message on the ``training`` queue.

The actor that consumes it belongs to the training service, which is not built yet. Until it is,
messages wait in the queue (RabbitMQ keeps them durably; no worker consumes ``training``), and no
model is faked. A request is skipped when the user already has a model for the content fingerprint.
"""

from __future__ import annotations

import dramatiq

from services.core.keys import CacheKeys, Namespace
from services.core.storage import StorageBackend

TRAIN_ACTOR_NAME = "train_model"


def model_exists(storage: StorageBackend, username: str, content_fingerprint: str) -> bool:
    return storage.exists(CacheKeys(Namespace.LIVE).model_metadata(username, content_fingerprint))


def training_message(queue: str, *, job_id: str, username: str, content_fingerprint: str,
                     bundle_fingerprint: str) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=queue, actor_name=TRAIN_ACTOR_NAME, args=(),
        kwargs={"job_id": job_id, "username": username, "content_fingerprint": content_fingerprint,
                "bundle_fingerprint": bundle_fingerprint},
        options={},
    )
