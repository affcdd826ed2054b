"""The legacy replica's inline trainer: the training service's own trainer, models under ``legacy/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.core.keys import Namespace
from services.core.settings import Settings
from services.core.storage import StorageBackend


def inline_trainer(settings: Settings, storage: StorageBackend) -> Callable[[str, list[dict[str, Any]]], Any] | None:
    """A ``(username, records) -> outcome`` callable, or None when inline training is switched off."""
    if not settings.legacy_inline_training:
        return None
    from services.train.store import ModelStore
    from services.train.trainer import params_from_settings, train_bundle

    store = ModelStore(storage, settings.data_path / "model-cache", Namespace.LEGACY)
    params = params_from_settings(settings)
    return lambda username, records: train_bundle(store, username, records, params)
