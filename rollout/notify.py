"""Notifications to a Slack- or Teams-compatible incoming webhook, with retries.

Slack gets ``{"text": ...}``; Teams gets a MessageCard (``@type``, ``summary``, ``title``,
``text``, ``themeColor``). A notification is best effort: it is retried with backoff, and a final
failure is reported to the caller, never raised, so it can never block the flag flip it reports.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx

log = logging.getLogger("cloudfolio.notify")


@dataclass
class WebhookNotifier:
    """Posts to one incoming webhook.

    Parameters:
      url(str): the webhook URL (a secret: never logged).
      style(str): ``slack`` or ``teams``. Defaults to ``slack``.
      attempts(int): tries before giving up. Defaults to 3.
      timeout(float): seconds per try. Defaults to 5.
    """

    url: str
    style: str = "slack"
    attempts: int = 3
    timeout: float = 5.0
    backoff: float = 0.5

    def payload(self, title: str, text: str, severity: str) -> dict[str, object]:
        if self.style == "teams":
            color = {"critical": "D70000", "warning": "FFA500"}.get(severity, "0076D7")
            return {"@type": "MessageCard", "@context": "http://schema.org/extensions", "summary": title,
                    "themeColor": color, "title": title, "text": text}
        return {"text": f"*{title}*\n{text}"}

    def send(self, title: str, text: str, severity: str = "critical") -> bool:
        body = self.payload(title, text, severity)
        for attempt in range(self.attempts):
            try:
                response = httpx.post(self.url, json=body, timeout=self.timeout)
                if response.status_code < 300:
                    return True
                log.warning("notification webhook answered %s (try %d)", response.status_code, attempt + 1)
            except httpx.HTTPError as exc:
                log.warning("notification webhook unreachable: %s (try %d)", type(exc).__name__, attempt + 1)
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff * 2**attempt)
        log.error("notification not delivered after %d tries", self.attempts)
        return False
