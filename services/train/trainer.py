"""Train the model for one bundle: skip when cached, fine-tune, save, or record the failure.

Used by the ``train_model`` actor, by single-task mode (``cloudfolio train``) and by the legacy
replica's inline training, so all three train the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.core.fingerprints import content_fingerprint
from services.train.model import BASE_MODEL_NAME, TrainParams, fine_tune, load_model, pick_device
from services.train.pairs import build_pairs, token_chunker
from services.train.store import ModelStore

log = logging.getLogger("cloudfolio.train")

#: Fewer documented repos than this trains nothing (the legacy's rule: too little to learn from).
MIN_DOCUMENTED = 3

TRAINED, CACHED, TOO_FEW, LOST_RACE = "trained", "skipped: cached", "skipped: too few documented repos", "lost race"


@dataclass
class TrainOutcome:
    status: str
    fingerprint: str
    metadata: dict[str, Any] = field(default_factory=dict)


def train_bundle(
    store: ModelStore, username: str, records: Sequence[dict[str, Any]], params: TrainParams
) -> TrainOutcome:
    """Make sure ``username`` has a model for the content of ``records``."""
    fingerprint = content_fingerprint(records)
    if store.exists(username, fingerprint):
        log.info("model for %s exists; skipped", fingerprint, extra={"username": username})
        return TrainOutcome(CACHED, fingerprint, store.metadata(username, fingerprint) or {})
    documented = [r for r in records if r.get("has_documentation")]
    if len(documented) < MIN_DOCUMENTED:
        return TrainOutcome(TOO_FEW, fingerprint)
    started = time.perf_counter()
    details = {"username": username, "documented": len(documented), "params": vars(params)}
    try:
        device = pick_device(params.device)
        model = load_model(params.base_model or None, device=device)
        chunk = token_chunker(model.tokenizer, max(16, min(model.max_seq_length, params.max_tokens) - 2))
        pairs = build_pairs(documented, chunk, max_pairs=params.max_pairs, seed=params.seed)
        report = fine_tune(model, pairs, params, device)
    except Exception as exc:
        # never save the base model as if it were trained (the legacy did): record the failure
        store.record_failure(username, fingerprint, f"{type(exc).__name__}: {exc}", details)
        raise
    metadata = {
        "status": "trained",
        "base_model": params.base_model or BASE_MODEL_NAME,
        "fingerprint": fingerprint,
        "username": username,
        "pairs": len(pairs),
        "repos": sorted(str(r.get("name")) for r in documented),
        "epochs": params.epochs,
        "batch_size": params.batch_size,
        "warmup_steps": params.warmup_steps,
        "learning_rate": params.learning_rate,
        "seed": params.seed,
        "max_tokens": params.max_tokens,
        "steps": report.steps,
        "loss": report.epoch_losses,
        "train_seconds": report.seconds,
        "duration_seconds": round(time.perf_counter() - started, 3),
        "device": device,
        "created_at": datetime.now(UTC).isoformat(),
    }
    if not store.save(username, fingerprint, model, metadata):
        log.info("another trainer committed %s first; kept theirs", fingerprint, extra={"username": username})
        return TrainOutcome(LOST_RACE, fingerprint, store.metadata(username, fingerprint) or {})
    log.info("trained %s on %d pairs in %.1fs (%s)", fingerprint, len(pairs), metadata["duration_seconds"], device,
             extra={"username": username})
    return TrainOutcome(TRAINED, fingerprint, store.metadata(username, fingerprint) or metadata)


def params_from_settings(settings: Any) -> TrainParams:
    return TrainParams(batch_size=settings.train_batch_size, epochs=settings.train_epochs,
                       warmup_steps=settings.train_warmup_steps, max_pairs=settings.train_max_pairs,
                       learning_rate=settings.train_learning_rate, seed=settings.train_seed,
                       max_tokens=settings.train_max_tokens,
                       device=settings.train_device, base_model=settings.train_base_model)
