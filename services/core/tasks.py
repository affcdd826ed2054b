"""The single-task envelope: what a scale-to-zero container is given to do, validated.

``TASK_DATA`` (or ``--task-file``) holds a JSON object::

    {"task_id": "t-42", "task_type": "train", "payload": {"username": "octocat"},
     "webhook_url": "https://backend.example/tasks/done"}

- ``task_id``: required, 1-128 characters of letters, digits and ``._:-``; echoed in every output;
- ``task_type``: ``train`` (fine-tune the user's bundle) or ``refresh`` (rebuild the user's bundle
  on its own, without a broker);
- ``payload``: ``{"username", "namespace"?}`` (``namespace`` ``live`` by default; ``train`` also takes
  ``shadow`` and ``legacy``, ``refresh`` takes ``live`` or ``shadow``); ``refresh`` also takes
  ``"force": true`` to rebuild a bundle that is current; unknown fields are refused;
- ``webhook_url``: optional; where the completion is posted. ``https`` only, unless loopback ``http``
  is allowed by the settings (tests, a sidecar).

The bare ``{"username": ..., "namespace"?: ...}`` form of earlier releases is still accepted as a
``train`` task with the task id ``train-<username>``. Anything else raises :class:`InvalidTask`
(exit 2, a clear line, nothing run). The :attr:`InvalidTask.envelope` of a refused task keeps the
``task_id`` and ``webhook_url`` when those were valid, so the refusal can still be reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.core.errors import InvalidInput
from services.core.keys import Namespace
from services.core.names import validate_username

TRAIN, REFRESH = "train", "refresh"
#: Each task type and the namespaces its payload may name.
TASK_TYPES = {TRAIN: (Namespace.LIVE, Namespace.SHADOW, Namespace.LEGACY), REFRESH: (Namespace.LIVE, Namespace.SHADOW)}
TASK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ENVELOPE_FIELDS = {"task_id", "task_type", "payload", "webhook_url"}
PAYLOAD_FIELDS = {TRAIN: {"username", "namespace"}, REFRESH: {"username", "namespace", "force"}}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class TaskEnvelope:
    task_id: str
    task_type: str
    username: str
    namespace: Namespace = Namespace.LIVE
    force: bool = False
    webhook_url: str | None = None


class InvalidTask(InvalidInput):
    """A task that can never succeed as given; ``task_id``/``webhook_url``/``task_type`` are set when
    they were valid, so the refusal can still be reported."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.task_id: str | None = None
        self.webhook_url: str | None = None
        self.task_type: str | None = None

    def __str__(self) -> str:
        return self.message


def check_webhook_url(url: Any, allow_loopback_http: bool) -> str:
    """The webhook URL when it is ``https`` (or loopback ``http`` where allowed); :class:`InvalidTask` else."""
    if not isinstance(url, str) or not url:
        raise InvalidTask("invalid task: webhook_url must be a URL string")
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and allow_loopback_http and parts.hostname in LOOPBACK:
        return url
    allowed = "https (or loopback http, as CLOUDFOLIO_TASK_WEBHOOK_ALLOW_HTTP is set)" if allow_loopback_http \
        else "https"
    raise InvalidTask(f"invalid task: webhook_url must be {allowed}, not {parts.scheme or 'no scheme'}://")


def _payload(task_type: str, payload: Any) -> tuple[str, Namespace, bool]:
    if not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object")
    unknown = set(payload) - PAYLOAD_FIELDS[task_type]
    if unknown:
        raise ValueError(f"unknown payload field(s) for {task_type}: {', '.join(sorted(unknown))}")
    if "username" not in payload:
        raise ValueError("payload.username is required")
    username = validate_username(payload["username"])
    try:
        namespace = Namespace(payload.get("namespace", Namespace.LIVE.value))
    except ValueError:
        namespace = None  # type: ignore[assignment]
    if namespace not in TASK_TYPES[task_type]:
        allowed = ", ".join(n.value for n in TASK_TYPES[task_type])
        raise ValueError(f"payload.namespace of a {task_type} task must be one of {allowed}")
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise ValueError("payload.force must be true or false")
    return username, namespace, force


def parse_envelope(raw: str, *, allow_loopback_http: bool = False) -> TaskEnvelope:
    """The validated envelope of ``raw`` (JSON text); raises :class:`InvalidTask`."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise InvalidTask(f"invalid task: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidTask("invalid task: the task must be a JSON object")
    if "task_type" not in document and "task_id" not in document:  # the bare form of earlier releases
        try:
            task_id = f"train-{validate_username(document.get('username'))}"
        except (ValueError, TypeError) as exc:
            raise InvalidTask(f"invalid task: {exc}") from None
        document = {"task_id": task_id, "task_type": TRAIN, "payload": document}
    refused = InvalidTask("")
    task_id = document.get("task_id")
    if isinstance(task_id, str) and TASK_ID.match(task_id):
        refused.task_id = task_id
    if "webhook_url" in document:
        try:
            refused.webhook_url = check_webhook_url(document["webhook_url"], allow_loopback_http)
        except InvalidTask as exc:
            refused.message = exc.message
            raise refused from None
    try:
        unknown = set(document) - ENVELOPE_FIELDS
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        if refused.task_id is None:
            raise ValueError("task_id is required: 1-128 letters, digits or ._:-")
        task_type = document.get("task_type")
        if task_type not in TASK_TYPES:
            raise ValueError(f"unknown task_type {task_type!r}; known: {', '.join(TASK_TYPES)}")
        refused.task_type = task_type
        username, namespace, force = _payload(task_type, document.get("payload"))
    except (ValueError, KeyError, TypeError) as exc:
        refused.message = f"invalid task: {exc}"
        raise refused from None
    return TaskEnvelope(refused.task_id, task_type, username, namespace, force, refused.webhook_url)
