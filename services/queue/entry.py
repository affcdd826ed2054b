"""Entry module for Dramatiq's own CLI: ``dramatiq services.queue.entry --queues refresh-plan github-sync merge``.

Dramatiq's CLI imports a module and uses the broker it finds there, so this module (and only this
one) builds the pipeline at import time from the environment. ``cloudfolio worker`` is the
preferred runner: it adds the health endpoint and the job sweeper. Under Dramatiq's CLI, metrics
come from Dramatiq's own exposition server (``dramatiq_prom_port``, default 9191).
"""

from __future__ import annotations

import dramatiq

from services.core.settings import Settings
from services.queue.pipeline import build_pipeline

pipeline = build_pipeline(Settings.from_env())
broker = pipeline.broker
dramatiq.set_broker(broker)
