"""No credential in text meant for people: URLs and log lines are redacted."""

from __future__ import annotations

import logging

from services.core.logs import RedactSecrets, TextFormatter
from services.core.redaction import redact_text, redact_url


def test_urls_lose_their_password_and_credential_parameters() -> None:
    assert redact_url("amqp://user:pass@rabbit:5672/%2F") == "amqp://rabbit:5672/%2F"
    assert redact_url("https://app/x?taskHub=H&code=KEY&sig=S") == "https://app/x?taskHub=H&code=****&sig=****"


def test_every_log_line_is_redacted_whatever_its_level() -> None:
    record = logging.LogRecord("httpcore.http11", logging.DEBUG, __file__, 1, "send_request %s",
                               ("GET https://legacy/runtime/webhooks/durabletask/instances/1?code=SECRET-KEY&x=1",),
                               None)
    assert RedactSecrets().filter(record)
    line = TextFormatter().format(record)
    assert "SECRET-KEY" not in line and "code=****&x=1" in line
    assert redact_text("nothing to hide") == "nothing to hide"


def test_a_password_in_any_url_of_a_text_is_masked() -> None:
    text = "scrape of http://scraper:s3cret@127.0.0.1:9/metrics failed; broker amqp://guest:guest@rabbit:5672/%2F"
    assert redact_text(text) == ("scrape of http://****@127.0.0.1:9/metrics failed; broker "
                                 "amqp://****@rabbit:5672/%2F")
    assert redact_text("mail me at a@b.example, see https://host/path@x") == \
        "mail me at a@b.example, see https://host/path@x", "no userinfo, nothing changed"
