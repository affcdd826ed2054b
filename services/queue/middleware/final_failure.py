"""``FinalFailure``: run an actor's hook once a message has failed for good.

``Retries`` decides whether a failed message is retried; when it gives up (retries exhausted, or
the exception is one of the actor's ``throws``) it marks the message failed and Dramatiq
dead-letters it. This middleware reads that decision (``message.failed``) instead of re-deriving
it, and calls the actor's ``on_final_failure`` option as ``hook(error_text, *args, **kwargs)`` with
the message's own arguments, so a step can record the failure (a repo on its job, a job as
failed). A hook that raises is logged; the sweeper is the backstop.

Place it *before* ``Retries`` in the middleware list (``after_*`` hooks run in reverse order, so
it then runs after Retries has decided). It takes no parameters; actors declare
``on_final_failure``.
"""

from __future__ import annotations

import logging
from typing import Any

from dramatiq import Middleware

log = logging.getLogger("cloudfolio.actors")


class FinalFailure(Middleware):
    """Calls ``actor.options["on_final_failure"]`` when a message fails for good."""

    @property
    def actor_options(self) -> set[str]:
        return {"on_final_failure"}

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        if exception is None or not message.failed:
            return
        hook = broker.get_actor(message.actor_name).options.get("on_final_failure")
        if hook is None:
            return
        try:
            hook(f"{type(exception).__name__}: {exception}", *message.args, **message.kwargs)
        except Exception:  # the original error matters more; the sweeper is the backstop
            log.exception("recording a permanent failure of %s failed", message.actor_name)
