"""The direct code API (ext, API.md section 4): a balance check that spends nothing, and PINs
assigned server to server, all or none, refused with one identical answer whatever the cause,
every refusal in the audit log."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pinpay.errors import PinNotAccepted
from pinpay.kit.clock import FrozenClock, unix_ms, use_clock
from pinpay.kit.ids import group_pin
from pinpay.ledger.models import JournalEntry
from pinpay.runtime import Runtime
from pinpay.vouchers import issuance
from pinpay.vouchers import service as vouchers
from pinpay.vouchers.issuance import IssuedVoucher
from tests.api_client import Shop
from tests.factories import issue_vouchers
from tests.payments.helpers import (
    assign,
    ledger_problems,
    new_payment,
    rejections,
    update_merchant,
    voucher_by_serial,
)

REFUSAL = {"code": "pin_not_accepted", "message": PinNotAccepted.default_message}
UNKNOWN_PIN = "9999000099990000"


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


async def _voucher(
    runtime: Runtime, face_value: int = 2500, currency: str = "EUR"
) -> IssuedVoucher:
    return (await issue_vouchers(runtime, face_value=face_value, currency=currency)).vouchers[0]


async def _value(runtime: Runtime, serial: str) -> tuple[int, int, str]:
    voucher = await voucher_by_serial(runtime, serial)
    return voucher.remaining, voucher.held, voucher.status


async def _journal_entries(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(JournalEntry)) or 0)


async def _freeze(runtime: Runtime, serial: str) -> None:
    async with runtime.transaction() as session:
        await vouchers.change_status(session, serial, "freeze")


async def _bad_pins(runtime: Runtime, shop: Shop, frozen: FrozenClock) -> dict[str, str]:
    """One PIN of every kind the API must refuse, keyed by the reason the audit log records."""
    async with runtime.transaction() as session:
        expiring = await issuance.issue_batch(
            session, runtime.keyring, count=1, face_value=2500, currency="EUR", expires_days=1
        )
    frozen.advance(timedelta(days=1, seconds=1))
    used_up = await _voucher(runtime, 1000)
    spent = await new_payment(shop.client, "10.00")
    await assign(shop.client, spent, used_up.pin)
    assert (await shop.client.post(f"/v1/payments/{spent}/capture")).status_code == 200
    fully_held = await _voucher(runtime, 500)
    await assign(shop.client, await new_payment(shop.client, "20.00"), fully_held.pin)
    frozen_voucher = await _voucher(runtime)
    await _freeze(runtime, frozen_voucher.serial)
    return {
        "unknown_pin": UNKNOWN_PIN,
        "status_depleted": used_up.pin,
        "insufficient_value": fully_held.pin,
        "status_frozen": frozen_voucher.pin,
        "expired": expiring.vouchers[0].pin,
        "currency_mismatch": (await _voucher(runtime, currency="USD")).pin,
    }


async def test_check_reports_value_and_spends_nothing(runtime: Runtime, shop: Shop) -> None:
    voucher = await _voucher(runtime)
    entries = await _journal_entries(runtime)
    for form in (voucher.pin, group_pin(voucher.pin), group_pin(voucher.pin).replace(" ", "-")):
        response = await shop.client.post("/v1/vouchers/check", json={"pin": form})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "serial": voucher.serial,
            "currency": "EUR",
            "remaining": 25.0,
            "status": "ACTIVE",
            "expires": unix_ms(voucher.expires_at),
        }
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert await _journal_entries(runtime) == entries
    await assign(shop.client, await new_payment(shop.client, "10.00"), voucher.pin)
    after = await shop.client.post("/v1/vouchers/check", json={"pin": voucher.pin, "x": 1})
    assert after.json()["remaining"] == 15.0
    assert await ledger_problems(runtime) == []


async def test_every_refused_pin_gets_the_same_answer_and_an_audit_record(
    frozen: FrozenClock, runtime: Runtime, shop: Shop
) -> None:
    bad = await _bad_pins(runtime, shop, frozen)
    before = {r.id for r in await rejections(runtime)}
    for reason, pin in bad.items():
        # A customer each: five wrong PINs of one customer would lock it out (tested below).
        payment_id = await new_payment(shop.client, "10.00", customer={"id": f"c-{reason}"})
        refused = await shop.client.post(f"/v1/payments/{payment_id}/cards", json={"pins": [pin]})
        assert (refused.status_code, refused.json()) == (400, REFUSAL), reason
        checked = await shop.client.post("/v1/vouchers/check", json={"pin": pin})
        if reason == "currency_mismatch":  # a good voucher, only not for this payment
            assert (checked.status_code, checked.json()["currency"]) == (200, "USD")
        else:
            assert (checked.status_code, checked.json()) == (400, REFUSAL), reason
        payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
        assert payment["status"] == "INITIATED" and "card_details" not in payment
    recorded = [r for r in await rejections(runtime, "voucher.hold") if r.id not in before]
    assert [r.reason for r in recorded] == list(bad)
    assert all(r.actor == f"merchant:{shop.mid}" and r.subject for r in recorded)
    checks = await rejections(runtime, "voucher.check")
    assert [r.reason for r in checks] == [r for r in bad if r != "currency_mismatch"]
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("malformed", ["123", "1234 5678 9012 345X", "", 1234567890123456])
async def test_malformed_pin_gets_the_same_answer(
    runtime: Runtime, shop: Shop, malformed: object
) -> None:
    payment_id = await new_payment(shop.client)
    refused = await shop.client.post(f"/v1/payments/{payment_id}/cards", json={"pins": [malformed]})
    assert (refused.status_code, refused.json()) == (400, REFUSAL)
    checked = await shop.client.post("/v1/vouchers/check", json={"pin": malformed})
    assert (checked.status_code, checked.json()) == (400, REFUSAL)
    assert [r.reason for r in await rejections(runtime, "voucher.check")] == ["malformed_pin"]


async def test_lockout_refuses_even_a_good_pin_with_the_same_answer(
    runtime: Runtime, shop: Shop
) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    for guess in range(runtime.settings.lockout_threshold):
        wrong = await shop.client.post(
            f"/v1/payments/{payment_id}/cards", json={"pins": [f"99990000999900{guess:02d}"]}
        )
        assert (wrong.status_code, wrong.json()) == (400, REFUSAL)
    locked = await shop.client.post(
        f"/v1/payments/{payment_id}/cards", json={"pins": [voucher.pin]}
    )
    assert (locked.status_code, locked.json()) == (400, REFUSAL)
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert [r.reason for r in await rejections(runtime, "voucher.pin_entry")] == ["locked_out"]
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("bad", ["unknown", "frozen-first", "frozen-last"])
async def test_all_or_none_with_one_bad_pin(runtime: Runtime, shop: Shop, bad: str) -> None:
    first = await _voucher(runtime)
    good = await _voucher(runtime, 1000)
    last = await _voucher(runtime)
    bad_pin = {"unknown": UNKNOWN_PIN, "frozen-first": first.pin, "frozen-last": last.pin}[bad]
    if bad != "unknown":
        await _freeze(runtime, first.serial if bad == "frozen-first" else last.serial)
    payment_id = await new_payment(shop.client, "30.00")
    refused = await shop.client.post(
        f"/v1/payments/{payment_id}/cards", json={"pins": [good.pin, bad_pin]}
    )
    assert (refused.status_code, refused.json()) == (400, REFUSAL)
    assert await _value(runtime, good.serial) == (1000, 0, "ACTIVE")
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    assert payment["status"] == "INITIATED" and "card_details" not in payment
    still = await assign(shop.client, payment_id, good.pin)
    assert (still["status"], still["amount_missing"]) == ("INITIATED", 20.0)
    assert len(await rejections(runtime, "voucher.hold")) == 1
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("order", ["bad-after-good", "bad-before-good"])
async def test_bad_pin_is_refused_even_when_the_others_cover_the_amount(
    runtime: Runtime, shop: Shop, order: str
) -> None:
    lower, higher = await _voucher(runtime), await _voucher(runtime)  # ids in issue order
    good, bad = (lower, higher) if order == "bad-after-good" else (higher, lower)
    await _freeze(runtime, bad.serial)
    payment_id = await new_payment(shop.client, "10.00")
    refused = await shop.client.post(
        f"/v1/payments/{payment_id}/cards", json={"pins": [good.pin, bad.pin]}
    )
    assert (refused.status_code, refused.json()) == (400, REFUSAL)
    assert await _value(runtime, good.serial) == (2500, 0, "ACTIVE")
    assert [r.reason for r in await rejections(runtime, "voucher.hold")] == ["status_frozen"]
    assert await ledger_problems(runtime) == []


async def test_several_pins_cover_one_payment(runtime: Runtime, shop: Shop) -> None:
    big, small = await _voucher(runtime, 2500), await _voucher(runtime, 1000)
    payment_id = await new_payment(shop.client, "30.00")
    paid = await assign(shop.client, payment_id, group_pin(big.pin), small.pin)
    assert (paid["status"], paid["amount_missing"]) == ("AUTHORIZED", 0.0)
    assert sorted(c["amount"] for c in paid["card_details"]) == [5.0, 25.0]
    assert await _value(runtime, big.serial) == (0, 2500, "ACTIVE")
    assert await _value(runtime, small.serial) == (500, 500, "ACTIVE")
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("pins", [[], [f"{n:016d}" for n in range(11)], "1234"])
async def test_bad_pin_lists_are_10028(runtime: Runtime, shop: Shop, pins: object) -> None:
    payment_id = await new_payment(shop.client)
    response = await shop.client.post(f"/v1/payments/{payment_id}/cards", json={"pins": pins})
    assert response.status_code == 400
    assert (response.json()["number"], response.json()["param"]) == (10028, "pins")


async def test_same_pin_twice_is_10028(runtime: Runtime, shop: Shop) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client, "30.00")
    response = await shop.client.post(
        f"/v1/payments/{payment_id}/cards", json={"pins": [voucher.pin, group_pin(voucher.pin)]}
    )
    assert response.status_code == 400 and response.json()["param"] == "pins"
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")


async def test_merchant_without_direct_pins_gets_403(runtime: Runtime, shop: Shop) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    await update_merchant(runtime, shop.mid, direct_pins=False)
    cards = await shop.client.post(f"/v1/payments/{payment_id}/cards", json={"pins": [voucher.pin]})
    check = await shop.client.post("/v1/vouchers/check", json={"pin": voucher.pin})
    for response in (cards, check):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "direct_pins_disabled"
        assert voucher.pin not in response.text
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert (await shop.client.get(f"/v1/payments/{payment_id}")).json()["status"] == "INITIATED"
