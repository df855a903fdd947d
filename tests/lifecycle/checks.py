"""Assertions shared by the machine's rules and invariants: an API answer against the model, and
a stored payment against the rules of API.md section 2 (with no model at all)."""

from typing import Any

import httpx

from tests.lifecycle.driver import minor
from tests.lifecycle.model import (
    AUTHORIZED,
    CAPTURED,
    EXPIRED,
    HELD,
    LIVE,
    OPEN,
    PIN_REFUSED,
    RELEASED,
    SUCCESS,
    Payment,
    Refusal,
)
from tests.lifecycle.observe import PaymentRow

# API.md 4: "one fixed text" for every refused PIN; the page shows the same words.
PIN_REFUSED_TEXT = "This PIN cannot be used. Please check it and try again."


def payment_answer(body: dict[str, Any], payment: Payment) -> None:
    """A payment object as the model expects it (card_details: what each voucher gives)."""
    assert body["object"] == "PAYMENT" and body["id"] == payment.id, body
    assert minor(body["amount"]) == payment.amount, body
    assert body["customer"]["id"] == payment.customer, body
    assert body["status"] == payment.status, (body, payment)
    assert body.get("status_before_expiration") == payment.before_expiration, (body, payment)
    cards = [(c["serial"], minor(c["amount"])) for c in body.get("card_details", [])]
    assert cards == [(c.serial, c.amount) for c in payment.live_cards], (body, payment)
    if "amount_missing" in body:
        assert minor(body["amount_missing"]) == payment.missing, (body, payment)


def refused(response: httpx.Response, expected: Refusal) -> None:
    """The error object (API.md 1) with the expected code and number, and nothing secret."""
    assert response.status_code == expected.http, response.text
    body = response.json()
    assert body["code"] == expected.code, body
    assert body.get("number") == expected.number, body
    if expected == PIN_REFUSED:
        # Identical in every case: never whether the PIN exists, is used up or of another kind.
        assert body == {"code": "pin_not_accepted", "message": PIN_REFUSED_TEXT}, body
    else:
        assert isinstance(body["message"], str) and body["message"], body


def possible(payment_id: str, row: PaymentRow) -> None:
    """No payment in an impossible state, whatever the model thinks: its cards are held,
    captured or released exactly as its status allows, for exactly its amount."""
    states = {state for _serial, _amount, state in row.cards}
    total = sum(amount for _serial, amount, _state in row.cards)
    where = (payment_id, row)
    assert all(amount > 0 for _serial, amount, _state in row.cards), where
    if row.status in OPEN:
        assert states <= {HELD} and total < row.amount, where
    elif row.status == AUTHORIZED:
        assert states == {HELD} and total == row.amount, where
    elif row.status == SUCCESS:
        assert states == {CAPTURED} and total == row.amount, where
    else:  # canceled or expired: every hold went back
        assert states <= {RELEASED} and total <= row.amount, where
    if row.status == EXPIRED:
        assert row.before_expiration in LIVE, where
    else:
        assert row.before_expiration is None, where
