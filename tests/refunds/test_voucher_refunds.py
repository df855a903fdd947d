"""(ext) A refund onto a new voucher: issued out of the merchant's payable, its serial and PIN in
the answer exactly once (never stored in clear, never in a replay), and the PIN then pays."""

import re

from sqlalchemy import select

from pinpay.kit.ids import group_pin
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.payments.helpers import assign, new_payment, voucher_by_serial
from tests.refunds.helpers import (
    CUSTOMER,
    audit_records,
    error_of,
    events,
    money_problems,
    paid_payment,
    payable,
    refund,
    refund_body,
    stored_text,
)


def _to_voucher(amount: str = "4.00", **extra: object) -> dict[str, object]:
    return refund_body(amount, destination="voucher", **extra)


async def _journal_of_voucher(runtime: Runtime, serial: str) -> list[tuple[str, str, int]]:
    """The lines of the entry that issued `serial`: (kind, ref, amount)."""
    async with runtime.transaction() as session:
        entry_id = await session.scalar(
            select(JournalLine.entry_id)
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .where(
                JournalLine.account_kind == ledger.VOUCHER,
                JournalLine.account_ref == serial,
                JournalEntry.kind == "voucher_issue",
            )
        )
        lines = await session.execute(
            select(JournalLine.account_kind, JournalLine.account_ref, JournalLine.amount)
            .where(JournalLine.entry_id == entry_id)
            .order_by(JournalLine.id)
        )
        return [(kind, ref, int(amount)) for kind, ref, amount in lines]


async def test_a_new_voucher_shown_once_that_pays(runtime: Runtime, shop: Shop) -> None:
    payment_id = await paid_payment(runtime, shop.client)
    key = {"Idempotency-Key": "to-voucher-1"}
    body = await refund(shop.client, payment_id, _to_voucher("4.00"), headers=key)
    assert body["status"] == "SUCCESS"
    assert body["destination"] == "voucher"
    assert body["customer"] == {"id": CUSTOMER}
    voucher = body["voucher"]
    assert re.fullmatch(r"\d{16}", voucher["serial"])
    assert re.fullmatch(r"\d{16}", voucher["pin"])
    assert (voucher["amount"], voucher["currency"]) == (4.0, "EUR")
    pin = voucher["pin"]

    # The voucher's value came out of the merchant's payable, not out of the float.
    stored = await voucher_by_serial(runtime, voucher["serial"])
    assert (stored.face_value, stored.remaining, stored.status) == (400, 400, "ACTIVE")
    assert stored.country == "AT"  # the country of the payment's voucher
    assert await _journal_of_voucher(runtime, voucher["serial"]) == [
        (ledger.MERCHANT, shop.mid, -400),
        (ledger.VOUCHER, voucher["serial"], 400),
    ]
    assert await payable(runtime, shop.mid) == 600

    # The PIN is nowhere in the database: not in the voucher row, not in the stored answer.
    everything = await stored_text(runtime)
    assert pin not in everything and group_pin(pin) not in everything
    assert voucher["serial"] in everything

    # A replay: the same refund, its serial, no PIN, and no second voucher.
    again = await shop.client.post(
        f"/v1/payments/{payment_id}/refunds", json=_to_voucher("4.00"), headers=key
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    replayed = again.json()
    assert "pin" not in replayed["voucher"]
    assert replayed == {**body, "voucher": {k: v for k, v in voucher.items() if k != "pin"}}
    got = await shop.client.get(f"/v1/payments/{payment_id}/refunds/{body['id']}")
    assert got.json() == replayed
    assert len(await audit_records(runtime, "vouchers.issue")) == 2  # the payment's, this one
    assert await payable(runtime, shop.mid) == 600
    assert len(await events(runtime, "REFUND_SUCCEEDED")) == 1

    # The PIN pays a new payment like any voucher.
    new_id = await new_payment(shop.client, "3.50")
    assigned = await assign(shop.client, new_id, group_pin(pin))
    assert assigned["status"] == "AUTHORIZED"
    assert assigned["card_details"][0]["serial"] == voucher["serial"]
    captured = await shop.client.post(f"/v1/payments/{new_id}/capture")
    assert captured.json()["status"] == "SUCCESS"
    assert (await voucher_by_serial(runtime, voucher["serial"])).remaining == 50
    assert await payable(runtime, shop.mid) == 950
    assert await money_problems(runtime) == []


async def test_validated_then_captured_onto_a_voucher(runtime: Runtime, shop: Shop) -> None:
    payment_id = await paid_payment(runtime, shop.client)
    validated = await refund(shop.client, payment_id, _to_voucher("10.00", capture=False))
    assert validated["status"] == "VALIDATION_SUCCESSFUL"
    assert "voucher" not in validated
    assert await payable(runtime, shop.mid) == 1000
    path = f"/v1/payments/{payment_id}/refunds/{validated['id']}/capture"
    key = {"Idempotency-Key": "capture-to-voucher"}
    captured = await shop.client.post(path, headers=key)
    assert captured.status_code == 200, captured.text
    voucher = captured.json()["voucher"]
    assert re.fullmatch(r"\d{16}", voucher["pin"])
    replay = await shop.client.post(path, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["voucher"] == {k: v for k, v in voucher.items() if k != "pin"}
    # Without the key a second capture is refused: the voucher is never issued twice.
    second = await shop.client.post(path)
    assert error_of(second.json()) == ("transaction_invalid_state", 2017)
    assert voucher["pin"] not in await stored_text(runtime)
    assert await payable(runtime, shop.mid) == 0
    assert await money_problems(runtime) == []


async def test_a_voucher_refund_needs_no_account_but_the_customer(
    runtime: Runtime, shop: Shop
) -> None:
    payment_id = await paid_payment(runtime, shop.client)
    wrong = await refund(shop.client, payment_id, _to_voucher(customer_id="intruder"), 400)
    assert error_of(wrong) == ("customer_id_mismatch", 3181)
    too_much = await refund(shop.client, payment_id, _to_voucher("10.01"), 400)
    assert error_of(too_much) == ("refund_exceeds_payment", 3179)
    assert len(await audit_records(runtime, "vouchers.issue")) == 1
    assert await money_problems(runtime) == []
