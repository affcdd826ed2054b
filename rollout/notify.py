"""Notifications to a Slack- or Teams-compatible incoming webhook, with retries.

Slack gets ``{"text": ...}``; Teams gets a MessageCard (``@type``, ``summary``, ``title``,
``text``, ``themeColor``). A notification is best effort: it is retried with backoff
(:func:`services.core.webhook_post.post_with_retries`), and a final failure is reported to the
caller, never raised, so it can never block the flag flip it reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.core.webhook_post import post_with_retries


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
        body = json.dumps(self.payload(title, text, severity)).encode()
        return post_with_retries(self.url, body, {"Content-Type": "application/json"}, label="notification webhook",
                                 attempts=self.attempts, timeout=self.timeout, backoff=self.backoff)
