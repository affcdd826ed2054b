"""Our Dramatiq middleware, one per module, each with its parameters documented (as Dramatiq's own):

- :class:`~services.queue.middleware.tracing.Tracing`: trace context in messages, a span per actor run;
- :class:`~services.queue.middleware.log_context.LogContext`: job and user on every log line;
- :class:`~services.queue.middleware.outcome_metrics.OutcomeMetrics`: processed messages by outcome;
- :class:`~services.queue.middleware.final_failure.FinalFailure`: an actor's hook when a message
  fails for good;
- :class:`~services.queue.middleware.prometheus_bridge.DramatiqMetricsBridge`: Dramatiq's own
  Prometheus metrics in our registry.
"""
