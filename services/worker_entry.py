"""Entry module for Dramatiq's own CLI: ``dramatiq services.worker_entry --queues github-sync merge``.

Dramatiq's CLI imports a module and uses the broker it finds there, so this module (and only this
one) builds the pipeline at import time from the environment. ``cloudfolio worker`` is the
preferred runner: it adds the health endpoint and the job sweeper. Under Dramatiq's CLI, metrics
come from Dramatiq's own exposition server (``dramatiq_prom_port``, default 9191).
"""

from __future__ import annotations

import dramatiq

from services.core.runtime import build_runtime
from services.core.settings import Settings
from services.pipeline import Pipeline

pipeline = Pipeline(build_runtime(Settings.from_env()))
broker = pipeline.runtime.broker
dramatiq.set_broker(broker)
