"""The completion webhook of single-task mode: a signed JSON POST saying how a task ended.

The body is ``{task_id, task_type, status, started_at, finished_at, duration_s, result | error}``
(``status``: ``succeeded``, ``failed``, ``timed_out`` or ``rejected``), sent as compact JSON and
signed as GitHub signs its webhooks: ``X-Cloudfolio-Signature-256: sha256=<hex HMAC-SHA256 of the
raw body with the shared secret>``, so a receiver verifies the bytes it got (:func:`signature`);
``X-Cloudfolio-Task-Id`` repeats the id. Without a secret the post goes unsigned (and says so in
the log).

Delivery is at least once and bounded (:func:`services.core.webhook_post.post_with_retries`: up to
``attempts`` tries with backoff, retrying connection errors, 429 and 5xx). :meth:`CompletionWebhook.send`
never raises: a receiver that is down is logged (its URL without query or credentials) and the
task's exit code and stored result stay what they were.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from services.core.redaction import redact_url
from services.core.webhook_post import post_with_retries

log = logging.getLogger("cloudfolio.task")

SIGNATURE_HEADER = "X-Cloudfolio-Signature-256"
SUCCEEDED, FAILED, TIMED_OUT, REJECTED = "succeeded", "failed", "timed_out", "rejected"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CompletionWebhook:
    """Posts a task's completion to ``url``.

    Parameters:
      url(str): the receiver (validated by :func:`services.core.tasks.check_webhook_url`).
      secret(str): the HMAC key; empty sends unsigned.
      attempts(int): tries at most. Defaults to 4.
      timeout(float): seconds per try. Defaults to 5.
      backoff(float): seconds before the second try, doubling after. Defaults to 0.5.
      sleep(callable): how to wait between tries; tests set their own.
    """

    def __init__(self, url: str, secret: str, *, attempts: int = 4, timeout: float = 5.0, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url, self.secret = url, secret
        self.attempts, self.timeout, self.backoff, self.sleep = max(1, attempts), timeout, backoff, sleep

    def send(self, completion: Mapping[str, Any]) -> bool:
        """Post ``completion``; True once the receiver answered 2xx."""
        body = json.dumps(completion, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "X-Cloudfolio-Task-Id": str(completion.get("task_id", ""))}
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        else:
            log.warning("task webhook sent unsigned: CLOUDFOLIO_TASK_WEBHOOK_SECRET is not set")
        where = redact_url(self.url).split("?", 1)[0]
        return post_with_retries(self.url, body, headers, label=f"task webhook {where}", attempts=self.attempts,
                                 timeout=self.timeout, backoff=self.backoff, sleep=self.sleep)
