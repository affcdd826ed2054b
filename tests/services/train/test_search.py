"""Search quality on the sample portfolio: the fine-tuned model is not worse than the base model."""

from __future__ import annotations

from pathlib import Path

from services.core.storage.local import LocalBackend
from services.train.search import SearchService, extractive_answer
from services.train.store import ModelStore
from tests.services.train.conftest import Trained

# Each query names a tech-stack item that only one repo's .repo-context.json lists.
QUERIES = [
    ("Which project uses Swagger/Flasgger?", "AirBnB_clone_v3"),
    ("Which project uses Redis and Babel?", "alx-backend"),
    ("Which project uses asyncio?", "alx-backend-python"),
    ("Which project uses mysql-connector-python?", "alx-backend-user-data"),
    ("Which project uses Terraform and Ansible?", "azure_vmss_cluster"),
    ("Which project runs a Kubernetes cluster?", "azure_vmss_cluster"),
    ("Which project uses Angular and Flask?", "collabHub"),
    ("Which project uses Azure Storage Queues to send email?", "Email_FA"),
    ("Which project uses Google reCAPTCHA Enterprise?", "recaptcha_FA"),
    ("Which project uses timer triggers to start and stop VMs?", "startstopvm"),
    ("Which project uses HTML5, CSS3 and cmd?", "AirBnB_clone_v2"),
    ("Which project uses the Azure SDKs in function apps?", "function-apps-py"),
]


def mean_reciprocal_rank(service: SearchService, records: list[dict]) -> tuple[float, int]:
    total, top3 = 0.0, 0
    for query, wanted in QUERIES:
        names = [r["repo"] for r in service.search("yungryce", records, query, k=len(records))["results"]]
        rank = names.index(wanted) + 1
        total += 1 / rank
        top3 += rank <= 3
    return total / len(QUERIES), top3


def test_fine_tuned_mrr_is_not_worse_than_the_base_models(trained: Trained, tmp_path: Path) -> None:
    base = SearchService(ModelStore(LocalBackend(tmp_path), tmp_path / "cache"))  # no model: base
    tuned = SearchService(trained.store)
    base_mrr, _ = base_result = mean_reciprocal_rank(base, trained.records)
    tuned_mrr, tuned_top3 = mean_reciprocal_rank(tuned, trained.records)
    print(f"\nMRR over {len(QUERIES)} queries: base {base_mrr:.3f}, fine-tuned {tuned_mrr:.3f} "
          f"(top-3: base {base_result[1]}, fine-tuned {tuned_top3})")
    assert tuned_mrr >= base_mrr
    assert tuned_top3 == len(QUERIES), "every query ranks its repo in the top 3 with the fine-tuned model"


def test_search_reports_the_model_and_falls_back_to_the_base(trained: Trained, tmp_path: Path) -> None:
    tuned = SearchService(trained.store).search("yungryce", trained.records, "Terraform", k=3)
    assert tuned["model"] == {**tuned["model"], "fine_tuned": True, "fingerprint": trained.outcome.fingerprint}
    assert len(tuned["results"]) == 3 and tuned["results"][0]["score"] >= tuned["results"][1]["score"]
    base = SearchService(ModelStore(LocalBackend(tmp_path), tmp_path / "c")).search("yungryce", trained.records,
                                                                                     "Terraform", k=3)
    assert base["model"]["fine_tuned"] is False and "base model" in base["model"]["note"]


def test_repo_embeddings_are_cached_in_storage_and_reused(trained: Trained) -> None:
    service = SearchService(trained.store)
    service.search("yungryce", trained.records, "Flask", k=1)
    key = trained.store.keys.model_embeddings("yungryce", trained.outcome.fingerprint)
    stored = trained.storage.head(key)
    fresh = SearchService(trained.store)  # a new process would start like this
    fresh.search("yungryce", trained.records, "Redis", k=1)
    assert trained.storage.head(key).etag == stored.etag, "read from storage, not recomputed"


def test_extractive_answer_lists_the_top_repos() -> None:
    answer = extractive_answer("flask", [{"repo": "a", "score": 0.9, "description": "A Flask app", "matched_text": ""}])
    assert answer.startswith("Projects most relevant to 'flask':") and "a (score 0.90): A Flask app" in answer
    assert extractive_answer("x", []) == "No repositories matched 'x'."
