"""docs/task-envelope.schema.json and the parser agree: the schema accepts exactly what
:func:`services.core.tasks.parse_envelope` accepts (the bare legacy form aside)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from services.core.tasks import InvalidTask, parse_envelope

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "task-envelope.schema.json").read_text("utf-8"))
HOOK = "https://backend.example/tasks/done"
CASES = [
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat"}},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat", "namespace": "legacy"},
     "webhook_url": HOOK},
    {"task_id": "r:2.x", "task_type": "refresh", "payload": {"username": "a-b", "namespace": "shadow", "force": True}},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat", "force": True}},
    {"task_id": "t-1", "task_type": "refresh", "payload": {"username": "octocat", "namespace": "legacy"}},
    {"task_id": "t-1", "task_type": "refresh", "payload": {"username": "octocat", "force": "yes"}},
    {"task_id": "t-1", "task_type": "explode", "payload": {"username": "octocat"}},
    {"task_id": "", "task_type": "train", "payload": {"username": "octocat"}},
    {"task_id": "a b", "task_type": "train", "payload": {"username": "octocat"}},
    {"task_type": "train", "payload": {"username": "octocat"}},
    {"task_id": "t-1", "task_type": "train"},
    {"task_id": "t-1", "task_type": "train", "payload": {}},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "-x-"}},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "x" * 40}},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat"}, "webhook_url": "http://b.example/"},
    {"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat"}, "extra": 1},
]


@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_the_schema_accepts_exactly_what_the_parser_accepts(case: dict) -> None:
    try:
        parse_envelope(json.dumps(case))
        parsed = True
    except InvalidTask:
        parsed = False
    valid = jsonschema.Draft202012Validator(SCHEMA).is_valid(case)
    assert valid == parsed, f"schema says {valid}, parser says {parsed}"
