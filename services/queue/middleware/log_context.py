"""``LogContext``: every log record written while a message is processed names its job and user.

Before an actor runs, the message's ``job_id``, ``username``, ``mode`` and ``repo`` arguments
(positional or keyword), the actor's name and ``path=queue`` (workers run the queue path) are set
as the log context (:func:`services.core.logs.set_log_context`); after it, the context is cleared.
It takes no parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from dramatiq import Middleware

from services.core.logs import set_log_context

#: Actor arguments copied into the log context when present.
CONTEXT_ARGUMENTS = ("job_id", "username", "mode", "repo")


@lru_cache(maxsize=256)
def positional_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names ``fn``'s positional arguments bind to; once per function, since a signature costs
    more than the rest of a message's middleware."""
    # inspect.signature follows __wrapped__, so actors wrapped by a decorator keep their names
    parameters = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def message_arguments(broker: Any, message: Any) -> dict[str, Any]:
    """Map a message's positional and keyword arguments to the actor's parameter names."""
    try:
        names = positional_names(broker.get_actor(message.actor_name).fn)
    except Exception:  # an actor unknown to this process: keyword arguments only
        names = ()
    values = dict(zip(names, message.args, strict=False))
    values.update(message.kwargs)
    return values


class LogContext(Middleware):
    """Adds ``job_id``, ``username``, ``mode``, ``repo`` and ``actor`` to log records of a message."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        arguments = message_arguments(broker, message)
        context = {"actor": message.actor_name, "path": "queue"}
        for name in CONTEXT_ARGUMENTS:
            value = arguments.get(name)
            if name == "repo" and isinstance(value, dict):
                value = value.get("name")
            if value is not None:
                context[name] = value
        set_log_context(context)

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        set_log_context(None)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        set_log_context(None)
