"""Hand-off from the merge to training: a ``train_model`` message on the ``training`` queue.

Built as a plain message so the merge worker needs no torch; the ``train_model`` actor
(:mod:`services.train.actors`) consumes it in a training worker. The pipeline skips the request
when the user already has a model for the content fingerprint.
"""

from __future__ import annotations

import dramatiq

TRAIN_ACTOR_NAME = "train_model"


def training_message(queue: str, *, job_id: str, username: str, content_fingerprint: str,
                     bundle_fingerprint: str) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=queue, actor_name=TRAIN_ACTOR_NAME, args=(),
        kwargs={"job_id": job_id, "username": username, "content_fingerprint": content_fingerprint,
                "bundle_fingerprint": bundle_fingerprint},
        options={},
    )
