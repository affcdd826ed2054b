"""The port through which pipeline steps hand work on: one interface, implemented by the queue.

Steps in ``services.sync``, ``services.merge`` and ``services.train`` are plain functions over the
domain; when a step must start the next one (plan -> syncs, last sync -> merge, merge -> training)
it calls a :class:`Dispatcher`. The queue machinery (``services.queue.pipeline``) implements it by
sending Dramatiq messages, so the steps never import a broker and the dependency points one way.
"""

from __future__ import annotations

from typing import Any, Protocol


class Dispatcher(Protocol):
    """Sends the next step of a job."""

    def send_sync(self, job_id: str, username: str, repo: dict[str, Any], mode: str) -> None:
        """Queue the sync of one repo of a job."""

    def send_merge(self, job_id: str, username: str, mode: str) -> None:
        """Queue the merge of a job whose repos are all done."""

    def send_plan_later(self, job_id: str, username: str, force: bool, mode: str, delay_seconds: float) -> None:
        """Queue a job's plan again after a delay (a follow-up waiting for the job before it)."""

    def request_training(self, job_id: str, username: str, content_fingerprint: str, bundle_fingerprint: str,
                         documented: int) -> bool:
        """Queue training for a merged bundle when it needs a model; True when a request was sent."""

    def delivery_id(self) -> str | None:
        """The id of the message being processed (the same on every redelivery of it), or None."""
