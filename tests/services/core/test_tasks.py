"""The task envelope: each type's payload, the bare form of earlier releases, and every refusal."""

from __future__ import annotations

import json

import pytest

from services.core.keys import Namespace
from services.core.tasks import InvalidTask, TaskEnvelope, parse_envelope


def envelope(**fields: object) -> str:
    return json.dumps({"task_id": "t-1", "task_type": "train", "payload": {"username": "octocat"}, **fields})


def test_each_type_with_its_payload() -> None:
    assert parse_envelope(envelope(webhook_url="https://backend.example/done")) == TaskEnvelope(
        "t-1", "train", "octocat", Namespace.LIVE, False, "https://backend.example/done")
    refresh = parse_envelope(envelope(task_type="refresh", payload={"username": "octocat", "namespace": "shadow",
                                                                     "force": True}))
    assert (refresh.task_type, refresh.namespace, refresh.force) == ("refresh", Namespace.SHADOW, True)
    legacy = parse_envelope(envelope(payload={"username": "octocat", "namespace": "legacy"}))
    assert legacy.namespace == Namespace.LEGACY, "a legacy bundle can be trained"


def test_the_bare_form_of_earlier_releases_is_a_train_task() -> None:
    task = parse_envelope('{"username": "octocat", "namespace": "shadow"}')
    assert (task.task_id, task.task_type, task.namespace) == ("train-octocat", "train", Namespace.SHADOW)
    with pytest.raises(InvalidTask, match="invalid task"):
        parse_envelope('{"username": "../x"}')


@pytest.mark.parametrize(("raw", "why"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    (envelope(task_id=None), "task_id is required"),
    (envelope(task_id="a b"), "task_id is required"),
    (envelope(task_type="explode"), "unknown task_type 'explode'"),
    (envelope(payload="octocat"), "payload must be a JSON object"),
    (envelope(payload={}), "payload.username is required"),
    (envelope(payload={"username": "-bad-"}), "invalid task"),
    (envelope(payload={"username": "octocat", "rm": "-rf"}), "unknown payload field"),
    (envelope(task_type="refresh", payload={"username": "octocat", "namespace": "legacy"}), "must be one of live"),
    (envelope(task_type="refresh", payload={"username": "octocat", "force": "yes"}), "force must be true or false"),
    (envelope(extra=1), "unknown field(s): extra"),
])
def test_malformed_envelopes_are_refused_with_a_reason(raw: str, why: str) -> None:
    with pytest.raises(InvalidTask) as refused:
        parse_envelope(raw)
    assert why in str(refused.value)


def test_a_webhook_must_be_https_unless_loopback_http_is_allowed() -> None:
    for url in ("http://backend.example/done", "ftp://x/y", "", 42):
        with pytest.raises(InvalidTask, match="webhook_url must be") as refused:
            parse_envelope(envelope(webhook_url=url))
        assert refused.value.task_id == "t-1" and refused.value.webhook_url is None
    loopback = envelope(webhook_url="http://127.0.0.1:8080/done")
    with pytest.raises(InvalidTask):
        parse_envelope(loopback)
    assert parse_envelope(loopback, allow_loopback_http=True).webhook_url == "http://127.0.0.1:8080/done"
    with pytest.raises(InvalidTask):
        parse_envelope(envelope(webhook_url="http://10.0.0.1/done"), allow_loopback_http=True)


def test_a_refusal_keeps_what_was_valid_so_it_can_be_reported() -> None:
    with pytest.raises(InvalidTask) as refused:
        parse_envelope(envelope(task_type="explode", webhook_url="https://backend.example/done"))
    assert (refused.value.task_id, refused.value.webhook_url) == ("t-1", "https://backend.example/done")
