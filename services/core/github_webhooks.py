"""GitHub webhook deliveries: the signature check and what each event asks of us.

GitHub signs every delivery with the webhook's secret: ``X-Hub-Signature-256: sha256=<hex
HMAC-SHA256 of the raw body>``. :func:`signature_is_valid` recomputes it over the bytes received
and compares in constant time; nothing is parsed before it passed.

:func:`action_for` maps an event (``X-GitHub-Event``) and its payload to a :class:`WebhookAction`:

- ``ping`` (sent when the hook is created): answered, nothing else;
- ``push`` to a public repository: refresh its owner, whose plan then syncs only the repos whose
  metadata changed (the pushed one);
- ``repository`` ``created``, ``deleted``, ``renamed``, ``publicized``, ``privatized``, ``edited``,
  ``archived``, ``unarchived``, ``transferred``: refresh the owner, so the repo list follows;
- a push to a private repository, any other event or action: acknowledged and ignored, with why.

A payload without a valid owner login raises :class:`InvalidWebhook` (400).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from services.core.errors import InvalidInput
from services.core.names import validate_username

REPOSITORY_ACTIONS = frozenset({"created", "deleted", "renamed", "publicized", "privatized", "edited", "archived",
                                "unarchived", "transferred"})
#: GitHub's delivery ids are GUIDs; anything of this shape is kept as the redelivery key.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class InvalidWebhook(InvalidInput):
    """A signed delivery whose payload is not what GitHub documents for its event."""


@dataclass(frozen=True)
class WebhookAction:
    kind: str  # pong | refresh | ignore
    username: str | None = None
    repo: str | None = None
    why: str = ""


def signature_is_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.encode(), expected.encode())


def _owner(payload: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    repository = payload.get("repository")
    if not isinstance(repository, dict) or not isinstance(repository.get("owner"), dict):
        raise InvalidWebhook("the payload has no repository.owner")
    owner = repository["owner"]
    login = owner.get("login") or owner.get("name")  # push payloads name the owner, others log it in
    try:
        username = validate_username(login)
    except (ValueError, TypeError) as exc:
        raise InvalidWebhook(f"repository.owner: {exc}") from None
    name = repository.get("name")
    return username, name if isinstance(name, str) else None, repository


def action_for(event: str, payload: Any) -> WebhookAction:
    if event == "ping":
        return WebhookAction("pong", why="hook registered")
    if not isinstance(payload, dict):
        raise InvalidWebhook("the payload must be a JSON object")
    if event == "push":
        username, repo, repository = _owner(payload)
        if repository.get("private") is True:
            return WebhookAction("ignore", username, repo, "a private repository is not in a portfolio")
        return WebhookAction("refresh", username, repo, "push")
    if event == "repository":
        action = payload.get("action")
        username, repo, _repository = _owner(payload)
        if action in REPOSITORY_ACTIONS:
            return WebhookAction("refresh", username, repo, f"repository {action}")
        return WebhookAction("ignore", username, repo, f"repository action {action!r} changes no portfolio")
    return WebhookAction("ignore", why=f"event {event!r} is not used")
