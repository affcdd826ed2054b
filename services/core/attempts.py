"""Helpers for actors: which attempt this is, and running a hook when the last one fails.

Dramatiq's ``Retries`` middleware counts attempts in ``message.options["retries"]`` (0 on the
first delivery). An actor that must record a permanent failure (a repo on its job, a job as
failed) wraps its body with :func:`on_final_failure`: the hook runs when the exception will not be
retried, either because it is one of the actor's ``throws`` or because retries are exhausted, and
then the exception propagates so Dramatiq dead-letters the message as usual.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from dramatiq import Retry
from dramatiq.middleware import CurrentMessage

from services.core.sources import RateLimited

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("cloudfolio.actors")

#: Longest delay we ask for when GitHub says to wait; a delayed message sits unacked in the delay
#: queue, and RabbitMQ's consumer timeout is 30 minutes.
MAX_RATE_LIMIT_DELAY_MS = 15 * 60 * 1000


def attempt_number() -> int:
    """0 for the first delivery of the current message, 1 for the first retry, and so on."""
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else 0


def on_final_failure(
    max_retries: int,
    throws: tuple[type[BaseException], ...],
    hook: Callable[..., None],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Call ``hook(error_text, *args, **kwargs)`` when the wrapped actor fails for good."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                final = isinstance(exc, throws) or attempt_number() >= max_retries
                if final:
                    _run_hook(hook, f"{type(exc).__name__}: {exc}", args, kwargs)
                elif isinstance(exc, RateLimited):
                    delay = int(min(exc.retry_after_seconds * 1000 + 1000, MAX_RATE_LIMIT_DELAY_MS))
                    raise Retry(str(exc), delay=delay) from exc
                raise

        return wrapper

    return decorate


def _run_hook(hook: Callable[..., None], error: str, args: Any, kwargs: Any) -> None:
    try:
        hook(error, *args, **kwargs)
    except Exception:  # the original error matters more; the sweeper is the backstop
        log.exception("recording a permanent failure failed")
