"""No PIN, API key or personal datum reaches a log line: the real logging setup, read back."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from pinpay.kit.log import configure_logging, log

PIN = "1234567812345678"
SERIAL = "0000111122223333"
API_KEY = "pinpay_live_" + "Ab3_dE-9" * 5
EMAIL = "jane.doe+shop@example.co.uk"

LogLine = dict[str, Any]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # Set up before capsys and torn down after it: the logs must not keep its closed stream.
    yield
    structlog.contextvars.clear_contextvars()
    configure_logging()


class Logs:
    """The real log output. `start()` sets logging up as the app does; call it in the test body,
    because pytest swaps the captured stderr between a fixture's setup and the test's call."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def start(self) -> None:
        configure_logging("DEBUG", json=True)  # binds the log to the (captured) stderr
        self.capsys.readouterr()

    def lines(self) -> list[LogLine]:
        captured = self.capsys.readouterr()
        assert captured.out == ""
        return [json.loads(line) for line in captured.err.splitlines()]


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Logs:
    return Logs(capsys)


def _everything(lines: list[LogLine]) -> str:
    return json.dumps(lines)


@pytest.mark.parametrize(
    "written",
    [PIN, "1234 5678 1234 5678", "1234-5678-1234-5678", "1234 5678-12345678"],
    ids=["plain", "spaces", "dashes", "mixed"],
)
def test_pins_in_text_are_masked(written: str, logs: Logs) -> None:
    logs.start()
    log.info(f"customer typed {written}", note=f"retry with [{written}]")
    (line,) = logs.lines()
    assert line["event"] == "customer typed ****-****-****-****"
    assert line["note"] == "retry with [****-****-****-****]"
    assert "5678" not in _everything([line])


def test_longer_digit_runs_are_not_mistaken_for_pins(logs: Logs) -> None:
    logs.start()
    log.info("amounts", reference="12345678123456789", short="123456781234567")
    (line,) = logs.lines()
    assert (line["reference"], line["short"]) == ("12345678123456789", "123456781234567")


def test_api_keys_and_emails_in_text_are_masked(logs: Logs) -> None:
    logs.start()
    log.warning("auth failed", detail=f"key {API_KEY} from {EMAIL}")
    (line,) = logs.lines()
    assert line["detail"] == "key pinpay_*** from ***@***"
    assert API_KEY not in _everything([line]) and EMAIL not in _everything([line])


@pytest.mark.parametrize(
    "key",
    [
        "pin",
        "pins",
        "password",
        "token",
        "api_key",
        "authorization",
        "Authorization",
        "client_secret",
        "customer_email",
        "csrf_token",
        "cookie",
        "new_pin",
    ],
)
def test_values_of_secret_keys_are_masked(key: str, logs: Logs) -> None:
    logs.start()
    log.info("request", **{key: "anything at all"})
    (line,) = logs.lines()
    assert line[key] == "***"


def test_nested_values_are_masked_and_serials_kept(logs: Logs) -> None:
    logs.start()
    log.info(
        "voucher.checked",
        serial=SERIAL,
        serials=[SERIAL, "9999888877776666"],
        headers={"Authorization": "Basic xyz", "X-Request-ID": "req_1"},
        attempts=[{"pin": PIN, "ok": False}, {"text": f"pin was {PIN}"}],
        details={"serial": SERIAL, "customer": {"email": EMAIL}},
    )
    (line,) = logs.lines()
    assert line["serial"] == SERIAL
    assert line["serials"] == [SERIAL, "9999888877776666"]
    assert line["headers"] == {"Authorization": "***", "X-Request-ID": "req_1"}
    assert line["attempts"] == [
        {"pin": "***", "ok": False},
        {"text": "pin was ****-****-****-****"},
    ]
    assert line["details"] == {"serial": SERIAL, "customer": {"email": "***"}}
    assert PIN not in _everything([line]) and EMAIL not in _everything([line])


def test_positional_formatting_and_exceptions_are_masked(
    logs: Logs,
) -> None:
    logs.start()
    log.info("redeeming %s for %s", PIN, EMAIL)
    try:
        raise ValueError(f"voucher {PIN} refused for {EMAIL} with {API_KEY}")
    except ValueError:
        log.exception("redeem.failed")
    first, second = logs.lines()
    assert first["event"] == "redeeming ****-****-****-**** for ***@***"
    assert "Traceback" in second["exception"] and "ValueError" in second["exception"]
    assert "voucher ****-****-****-**** refused for ***@*** with pinpay_***" in second["exception"]
    assert not [secret for secret in (PIN, EMAIL, API_KEY) if secret in second["exception"]]


def test_request_id_and_level_survive_redaction(logs: Logs) -> None:
    logs.start()
    structlog.contextvars.bind_contextvars(request_id="req_0123456789abcdef")
    log.error("payment.failed", amount=1000, currency="EUR")
    (line,) = logs.lines()
    assert line["request_id"] == "req_0123456789abcdef"
    assert (line["level"], line["amount"], line["currency"]) == ("error", 1000, "EUR")
    assert line["timestamp"].endswith("Z")


def test_tokens_client_secrets_webhook_secrets_and_auth_headers_are_masked() -> None:
    from pinpay.kit.log import redact_text

    jwt = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX3BhcnQ"
    text = (
        f"token {jwt} client ppcs_{'A' * 43} hook whsec_{'B' * 43} "
        "Authorization: Basic cGlucGF5X3NlY3JldGtleTo="
    )
    masked = redact_text(text)
    for secret in (jwt, jwt.split(".")[2], "A" * 43, "B" * 43, "cGlucGF5X3NlY3JldGtleTo="):
        assert secret not in masked


def test_standard_library_records_are_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        configure_logging("INFO")  # filters every handler present, pytest's capture included
        logging.getLogger("sqlalchemy.engine.Engine").warning(
            "params %s", ("1234 5678 9012 3456", "pinpay_" + "k" * 40)
        )
    assert "1234 5678 9012 3456" not in caplog.text and "k" * 40 not in caplog.text
    assert "****-****-****-****" in caplog.text
