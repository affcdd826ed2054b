"""A real (small) fine-tune: saved, reloaded in a fresh process, cached, raced, and failing safely."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from services.core.fingerprints import content_fingerprint
from services.core.keys import CacheKeys
from services.core.storage.local import LocalBackend
from services.train.model import TrainParams, load_model
from services.train.store import ModelStore
from services.train.trainer import CACHED, LOST_RACE, TOO_FEW, TRAINED, train_bundle
from tests.services.train.conftest import SMALL, Trained, sample_records

PROBES = ["Which project uses Flask?", "an interpreter written in C", "Azure infrastructure automation"]


def test_trained_model_metadata(trained: Trained) -> None:
    meta = trained.outcome.metadata
    assert trained.outcome.status == TRAINED
    assert meta["status"] == "trained" and meta["pairs"] == 48 and meta["epochs"] == 1 and meta["device"] == "cpu"
    assert len(meta["loss"]) == 1 and meta["loss"][0] > 0 and meta["steps"] == 6
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["created_at"]
    assert trained.storage.exists(meta["archive_key"])


def test_reloaded_in_a_fresh_process_it_gives_the_same_embeddings(trained: Trained) -> None:
    here = load_model(str(trained.store.local_path("yungryce", trained.outcome.fingerprint))).encode(PROBES)
    base = load_model().encode(PROBES)
    assert not np.allclose(here, base, atol=1e-3), "fine-tuning changed the model"
    script = (
        "import json, sys; from pathlib import Path\n"
        "from services.core.storage.local import LocalBackend\n"
        "from services.train.store import ModelStore\n"
        "from services.train.model import load_model\n"
        f"store = ModelStore(LocalBackend({str(trained.root / 'storage')!r}), Path({str(trained.root / 'fresh')!r}))\n"
        f"model = load_model(str(store.local_path('yungryce', {trained.outcome.fingerprint!r})))\n"
        f"print(json.dumps(model.encode({PROBES!r}).tolist()))\n"
    )
    fresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert np.allclose(np.array(json.loads(fresh.stdout.strip().splitlines()[-1])), here, atol=1e-5)


def test_a_second_request_for_the_same_content_does_not_train(trained: Trained) -> None:
    again = train_bundle(trained.store, "yungryce", trained.records, SMALL)
    assert again.status == CACHED
    assert again.metadata["created_at"] == trained.outcome.metadata["created_at"]
    assert again.metadata["archive_key"] == trained.outcome.metadata["archive_key"]


def test_training_texts_are_cut_to_max_tokens_and_the_saved_model_keeps_its_length(tmp_path: Path) -> None:
    from services.train.model import load_model

    storage = LocalBackend(tmp_path / "storage")
    records = sample_records(storage, "octocat")
    store = ModelStore(storage, tmp_path / "cache")
    outcome = train_bundle(store, "octocat", records, TrainParams(batch_size=4, epochs=1, warmup_steps=1,
                                                                  max_pairs=8, max_tokens=32))
    assert outcome.status == TRAINED and outcome.metadata["max_tokens"] == 32
    saved = load_model(str(store.local_path("octocat", outcome.fingerprint)))
    assert saved.max_seq_length == load_model().max_seq_length == 256  # search encodes at the full length


def test_model_archives_keep_weights_uncompressed_and_deflate_the_rest(trained: Trained) -> None:
    blob = trained.storage.get(trained.outcome.metadata["archive_key"]).data
    with zipfile.ZipFile(BytesIO(blob)) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds["model.safetensors"] == zipfile.ZIP_STORED
    assert kinds["config.json"] == zipfile.ZIP_DEFLATED


def test_models_are_per_user(trained: Trained) -> None:
    assert not trained.store.exists("octocat", trained.outcome.fingerprint)
    assert trained.outcome.metadata["archive_key"].startswith("models/yungryce/")


def test_two_trainers_of_one_fingerprint_end_with_one_valid_model(tmp_path: Path) -> None:
    storage = LocalBackend(tmp_path / "storage")
    records = sample_records(storage, "octocat")
    store = ModelStore(storage, tmp_path / "cache")
    tiny = TrainParams(batch_size=4, epochs=1, warmup_steps=1, max_pairs=8)
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(train_bundle(store, "octocat", records, tiny)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(o.status for o in outcomes)
    assert statuses in ([LOST_RACE, TRAINED], [CACHED, TRAINED])
    archives = [i.key for i in storage.list("models/octocat/") if i.key.endswith(".zip")]
    fingerprint = outcomes[0].fingerprint
    assert len(archives) == 1 and store.metadata("octocat", fingerprint)["archive_key"] == archives[0]
    assert (store.local_path("octocat", fingerprint) / "modules.json").exists()


def test_a_failed_training_is_recorded_and_never_saved_as_a_model(tmp_path: Path) -> None:
    storage = LocalBackend(tmp_path / "storage")
    records = sample_records(storage, "octocat")
    store = ModelStore(storage, tmp_path / "cache")
    # a base model folder that does not exist fails on any machine, with or without a GPU
    impossible = TrainParams(base_model=str(tmp_path / "no-such-model"))
    with pytest.raises(FileNotFoundError, match="no-such-model does not exist"):
        train_bundle(store, "octocat", records, impossible)
    fingerprint = content_fingerprint(records)
    assert not store.exists("octocat", fingerprint)
    failure = store.failure("octocat", fingerprint)
    assert failure["status"] == "failed" and "no-such-model does not exist" in failure["error"]
    assert not storage.exists(CacheKeys().model_metadata("octocat", fingerprint))


def test_too_few_documented_repos_train_nothing(tmp_path: Path) -> None:
    store = ModelStore(LocalBackend(tmp_path), tmp_path / "cache")
    records = [{"name": "a", "has_documentation": True, "readme": "x"}, {"name": "b", "has_documentation": False}]
    assert train_bundle(store, "octocat", records, SMALL).status == TOO_FEW


def test_device_choice_follows_the_machine() -> None:
    import torch

    from services.train.model import pick_device

    assert pick_device("cpu") == "cpu"
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert pick_device("cuda") == "cuda"
    else:
        with pytest.raises(RuntimeError, match="no CUDA device"):
            pick_device("cuda")
