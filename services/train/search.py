"""Semantic search over a user's repos with their fine-tuned model (or the base model).

Each repo is represented by a few texts: its profile (name, description, stack, topics, skills)
and the first chunk of its README and SKILLS-INDEX. A query scores each repo by its best-matching
text (cosine similarity of normalised embeddings). Repo-text embeddings are computed once per
(model, bundle) and kept in a bounded in-memory LRU and, for fine-tuned models, in storage next to
the model (``embeddings_{fp}.npy``), so a query costs one encode and a matrix product.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.core.fingerprints import bundle_fingerprint_of_records, content_fingerprint
from services.core.keys import tenant_metadata
from services.core.storage import BlobNotFound, StorageError
from services.train.model import BASE_MODEL_NAME, load_model
from services.train.pairs import profile_text, project_name
from services.train.store import ModelStore

log = logging.getLogger("cloudfolio.search")

#: Characters of README / SKILLS-INDEX used as an extra text per repo.
EXCERPT_CHARS = 1200


@dataclass
class _Index:
    model: Any
    names: list[str]
    owners: list[int]  # text row -> repo index
    texts: list[str]
    matrix: Any  # numpy array (texts x dim), rows normalised


def repo_texts(record: dict[str, Any]) -> list[str]:
    texts = [profile_text(record)]
    for field_name in ("readme", "skills_index"):
        value = record.get(field_name)
        if isinstance(value, str) and value.strip():
            texts.append(value[:EXCERPT_CHARS])
    return [t for t in texts if t.strip()] or [project_name(record)]


class SearchService:
    """Answers queries for any user; thread-safe.

    Parameters:
      store(ModelStore): where fine-tuned models are found.
      max_models(int): (model, bundle) indexes kept in memory. Defaults to 4.
    """

    def __init__(self, store: ModelStore, max_models: int = 4) -> None:
        self.store = store
        self.max_models = max_models
        self._indexes: OrderedDict[tuple[str, str, str], _Index] = OrderedDict()
        self._base: Any = None
        self._lock = threading.Lock()

    def _base_model(self) -> Any:
        if self._base is None:
            self._base = load_model(device="cpu")
        return self._base

    def _index(self, username: str, records: Sequence[dict[str, Any]]) -> tuple[_Index, str | None]:
        import numpy as np

        fingerprint = content_fingerprint(records)
        fine_tuned = self.store.exists(username, fingerprint)
        model_id = fingerprint if fine_tuned else "base"
        key = (username, model_id, bundle_fingerprint_of_records(records))
        with self._lock:
            if key in self._indexes:
                self._indexes.move_to_end(key)
                return self._indexes[key], fingerprint if fine_tuned else None
        model = load_model(str(self.store.local_path(username, fingerprint))) if fine_tuned else self._base_model()
        names, owners, texts = [], [], []
        for index, record in enumerate(records):
            names.append(str(record.get("name")))
            for text in repo_texts(record):
                owners.append(index)
                texts.append(text)
        matrix = self._stored_embeddings(username, fingerprint, len(texts)) if fine_tuned else None
        if matrix is None:
            matrix = np.asarray(model.encode(texts, normalize_embeddings=True, batch_size=32, show_progress_bar=False))
            if fine_tuned:
                self._store_embeddings(username, fingerprint, matrix)
        built = _Index(model, names, owners, texts, matrix)
        with self._lock:
            self._indexes[key] = built
            while len(self._indexes) > self.max_models:
                self._indexes.popitem(last=False)
        return built, fingerprint if fine_tuned else None

    def _stored_embeddings(self, username: str, fingerprint: str, rows: int) -> Any:
        import numpy as np

        try:
            blob = self.store.storage.get(self.store.keys.model_embeddings(username, fingerprint))
            matrix = np.load(io.BytesIO(blob.data), allow_pickle=False)
        except (BlobNotFound, StorageError, ValueError):
            return None
        return matrix if matrix.shape[0] == rows else None

    def _store_embeddings(self, username: str, fingerprint: str, matrix: Any) -> None:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, matrix, allow_pickle=False)
        try:
            self.store.storage.put(self.store.keys.model_embeddings(username, fingerprint), buffer.getvalue(),
                                   content_type="application/octet-stream", metadata=tenant_metadata(username))
        except StorageError as exc:  # a cache only: searching still works
            log.warning("could not store embeddings: %s", exc)

    def search(self, username: str, records: Sequence[dict[str, Any]], query: str, k: int = 5) -> dict[str, Any]:
        import numpy as np

        index, fingerprint = self._index(username, records)
        vector = np.asarray(index.model.encode([query], normalize_embeddings=True, show_progress_bar=False))[0]
        scores = index.matrix @ vector
        best: dict[int, tuple[float, int]] = {}
        for row, score in enumerate(scores):
            owner = index.owners[row]
            if owner not in best or score > best[owner][0]:
                best[owner] = (float(score), row)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:k]
        results = []
        for owner, (score, row) in ranked:
            record = records[owner]
            description = (record.get("metadata") or {}).get("description") or ""
            results.append({"repo": index.names[owner], "score": round(score, 4), "description": description,
                            "matched_text": index.texts[row][:200]})
        return {
            "query": query,
            "model": {"fine_tuned": fingerprint is not None, "fingerprint": fingerprint, "base_model": BASE_MODEL_NAME,
                      "note": None if fingerprint else "no fine-tuned model for this bundle yet: base model used"},
            "results": results,
        }


def extractive_answer(query: str, results: list[dict[str, Any]]) -> str:
    """A short answer built from the top repos' descriptions (no external LLM)."""
    if not results:
        return f"No repositories matched '{query}'."
    lines = [f"Projects most relevant to '{query}':"]
    for result in results:
        description = result["description"] or result["matched_text"]
        lines.append(f"- {result['repo']} (score {result['score']:.2f}): {description.strip()[:240]}")
    return "\n".join(lines)
