"""The completion webhook against a real receiver on loopback that verifies the signature."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.completion import SIGNATURE_HEADER, CompletionWebhook, signature
from tests.support.webhook_receiver import CompletionReceiver, start_receiver

SECRET = "webhook-secret"
OPENSSL_DIGEST = "38d7951cd02eab1b54d0e0e4257c279d640620961e1c438188bc252f3c6732db"
BODY = {"task_id": "t-1", "task_type": "train", "status": "succeeded", "result": {"status": "trained"}}


@pytest.fixture
def receiver() -> Iterator[CompletionReceiver]:
    state, server = start_receiver(SECRET)
    yield state
    server.stop()


def test_a_delivery_is_signed_over_the_raw_body(receiver: CompletionReceiver) -> None:
    assert CompletionWebhook(receiver.url, SECRET).send(BODY)
    [delivery] = receiver.deliveries
    assert delivery.signed_correctly and delivery.body == BODY and delivery.headers["x-cloudfolio-task-id"] == "t-1"
    # HMAC-SHA256 of b"{}" under "webhook-secret", computed independently with openssl
    assert signature(SECRET, b"{}") == "sha256=" + OPENSSL_DIGEST
    assert SIGNATURE_HEADER.lower() in delivery.headers
    wrong = CompletionWebhook(receiver.url, "another-secret")
    assert not wrong.send(BODY), "the receiver refuses a wrong signature (401) and it is not retried"
    assert receiver.tries == 2


def test_5xx_and_429_are_retried_with_backoff_and_bounded(receiver: CompletionReceiver) -> None:
    waits: list[float] = []
    receiver.fail_with = [500, 429]
    assert CompletionWebhook(receiver.url, SECRET, attempts=4, backoff=0.5, sleep=waits.append).send(BODY)
    assert receiver.tries == 3 and waits == [0.5, 1.0] and len(receiver.verified()) == 1
    receiver.fail_with = [503] * 10
    assert not CompletionWebhook(receiver.url, SECRET, attempts=3, sleep=waits.append).send(BODY)
    assert receiver.tries == 6, "three more tries, then it gives up"


def test_an_unreachable_receiver_gives_up_after_its_attempts_without_raising() -> None:
    waits: list[float] = []
    assert not CompletionWebhook("http://127.0.0.1:9/done", SECRET, attempts=3, timeout=1,
                                 sleep=waits.append).send(BODY)
    assert waits == [0.5, 1.0]
