"""One webhook POST, retried with backoff and bounded: the delivery rule every outgoing webhook shares
(rollout notifications, single-task completions).

:func:`post_with_retries` tries at most ``attempts`` times, each within ``timeout`` seconds, waiting
``backoff * 2**n`` seconds between tries; it retries connection errors, 429 and 5xx, and stops at
another 4xx (a retry would get the same answer). It never raises: it answers whether a 2xx came
back, and logs each failed try under the caller's ``label`` (never the URL, which may be a secret).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import httpx

log = logging.getLogger("cloudfolio.webhooks")


def post_with_retries(url: str, body: bytes, headers: Mapping[str, str], *, label: str, attempts: int = 3,
                      timeout: float = 5.0, backoff: float = 0.5,
                      sleep: Callable[[float], None] = time.sleep) -> bool:
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            answer = httpx.post(url, content=body, headers=dict(headers), timeout=timeout)
            if answer.is_success:
                return True
            outcome, retry = f"answered {answer.status_code}", answer.status_code == 429 or answer.status_code >= 500
        except httpx.HTTPError as exc:
            outcome, retry = f"unreachable ({type(exc).__name__})", True
        log.warning("%s %s (try %d of %d)", label, outcome, attempt, attempts)
        if not retry or attempt == attempts:
            break
        sleep(backoff * 2 ** (attempt - 1))
    log.error("%s not delivered", label)
    return False
