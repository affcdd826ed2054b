"""``Tracing``: one trace per refresh across processes, through every queue hop.

- When a message is enqueued without trace context, the sender's current W3C ``traceparent`` /
  ``tracestate`` are written into ``message.options`` (they travel in the message body). A message
  that already carries them keeps them: Dramatiq's retries and delayed re-enqueues copy the
  message, so a retry stays in the trace of its first send, under the same parent.
- When an actor runs, a ``CONSUMER`` span named after the actor (``plan_refresh``, ``sync_repo``,
  ``merge_bundle``, ``train_model``) continues the carried trace and is current while the actor
  runs, so the messages it sends (the fan-out, the merge, training) become its children. A
  redelivery after a crash, or a retry, is a new span in the same trace; ``cloudfolio.retries``
  tells them apart.
- The span carries ``cloudfolio.job_id``, ``username``, ``repo``, ``mode`` from the message's
  arguments, the queue (``messaging.destination.name``) and the message id; an actor that raised is
  marked as an error (a retry's ``Retry`` included: that delivery did not succeed).

With no tracer provider configured every call is the OpenTelemetry API's no-op, and an actor runs
under the carried span itself (what the no-op tracer would start) without its attributes being
worked out.

Parameters:
  provider(TracerProvider | None): where the spans go; default: the process's global provider,
    looked up on every message (it is installed after the broker is built).
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq import Middleware
from opentelemetry import context as otel_context
from opentelemetry import trace

from services.core import tracing
from services.queue.middleware.log_context import message_arguments


class Tracing(Middleware):
    """Carries trace context in messages and runs each actor in a span of that trace."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self.provider = provider
        # (span, context token) per worker thread; Dramatiq runs a message's hooks in one thread
        self._active = threading.local()

    def before_enqueue(self, broker: Any, message: Any, delay: int) -> None:
        if any(key in message.options for key in tracing.CONTEXT_KEYS):
            return
        carrier: dict[str, str] = {}
        tracing.inject(carrier)
        message.options.update(carrier)

    def before_process_message(self, broker: Any, message: Any) -> None:
        carried = tracing.extract(message.options)
        untraced = tracing.untraced(carried) if self.provider is None else None
        if untraced is not None:
            # the carried span itself, made current so the messages this actor sends carry the trace on;
            # no attributes are worth computing for it
            self._active.entry = (untraced, otel_context.attach(trace.set_span_in_context(untraced)))
            return
        arguments = message_arguments(broker, message)
        repo = arguments.get("repo")
        values = {
            "job_id": arguments.get("job_id"), "username": arguments.get("username"), "mode": arguments.get("mode"),
            "repo": repo.get("name") if isinstance(repo, dict) else repo,
        }
        span = self._tracer().start_span(
            message.actor_name, context=carried, kind=tracing.SpanKind.CONSUMER,
            attributes={**tracing.attributes(**values), "messaging.system": "rabbitmq",
                        "messaging.destination.name": message.queue_name,
                        "messaging.message.id": message.message_id,
                        "cloudfolio.retries": int(message.options.get("retries", 0))})
        token = otel_context.attach(trace.set_span_in_context(span))
        self._active.entry = (span, token)

    def _tracer(self) -> trace.Tracer:
        return tracing.tracer(self.provider)

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        entry = getattr(self._active, "entry", None)
        if entry is None:
            return
        self._active.entry = None
        span, token = entry
        if exception is not None:
            tracing.fail(span, exception)
        span.end()
        otel_context.detach(token)

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self.after_process_message(broker, message)
