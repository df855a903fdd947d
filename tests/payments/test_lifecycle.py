"""The payment state machine over the API: every legal and every illegal transition (2017),
cancel and expiry with held value going back, and merchant isolation. Time is moved with a
FrozenClock; the ledger is verified after every scenario."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.kit.ids import group_pin
from pinpay.notifications.models import OutboxEvent
from pinpay.runtime import Runtime
from pinpay.vouchers.issuance import IssuedVoucher
from pinpay.worker.service import run_once
from tests.api_client import Shop, basic
from tests.factories import create_merchant, issue_vouchers
from tests.payments.helpers import (
    assign,
    by_customer,
    count,
    ledger_problems,
    merchant_payable,
    new_payment,
    rejections,
    status_of,
    update_merchant,
    voucher_by_serial,
)

AUTHORIZATION_WINDOW = timedelta(minutes=30)
SECOND = timedelta(seconds=1)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


async def _voucher(runtime: Runtime, face_value: int = 2500) -> IssuedVoucher:
    return (await issue_vouchers(runtime, face_value=face_value)).vouchers[0]


async def _value(runtime: Runtime, serial: str) -> tuple[int, int, str]:
    voucher = await voucher_by_serial(runtime, serial)
    return voucher.remaining, voucher.held, voucher.status


async def _reach(state: str, runtime: Runtime, shop: Shop, frozen: FrozenClock) -> str:
    """A 10.00 payment brought to `state` the way a merchant or customer would."""
    payment_id = await new_payment(shop.client)
    if state == "REDIRECTED":
        await by_customer(runtime, payment_id, "redirect")
    elif state == "CANCELED_CUSTOMER":
        await by_customer(runtime, payment_id, "cancel")
    elif state == "EXPIRED":
        frozen.advance(AUTHORIZATION_WINDOW)
        assert (await run_once(runtime))["expire_payments"] == 1
    elif state in ("AUTHORIZED", "SUCCESS", "CANCELED_MERCHANT"):
        await assign(shop.client, payment_id, (await _voucher(runtime)).pin)
        action = {"SUCCESS": "capture", "CANCELED_MERCHANT": "cancel"}.get(state)
        if action:
            response = await shop.client.post(f"/v1/payments/{payment_id}/{action}")
            assert response.status_code == 200, response.text
    assert await status_of(shop.client, payment_id) == state
    return payment_id


STATES = [
    "INITIATED",
    "REDIRECTED",
    "AUTHORIZED",
    "SUCCESS",
    "CANCELED_MERCHANT",
    "CANCELED_CUSTOMER",
    "EXPIRED",
]
LEGAL = {
    ("INITIATED", "cancel"): "CANCELED_MERCHANT",
    ("INITIATED", "cards"): "AUTHORIZED",
    ("REDIRECTED", "cancel"): "CANCELED_MERCHANT",
    ("REDIRECTED", "cards"): "AUTHORIZED",
    ("AUTHORIZED", "capture"): "SUCCESS",
    ("AUTHORIZED", "cancel"): "CANCELED_MERCHANT",
}


@pytest.mark.parametrize("action", ["capture", "cancel", "cards"])
@pytest.mark.parametrize("state", STATES)
async def test_transition_matrix(
    frozen: FrozenClock, runtime: Runtime, shop: Shop, state: str, action: str
) -> None:
    payment_id = await _reach(state, runtime, shop, frozen)
    fresh = await _voucher(runtime)
    body = {"pins": [fresh.pin]} if action == "cards" else None
    response = await shop.client.post(f"/v1/payments/{payment_id}/{action}", json=body)
    if (state, action) in LEGAL:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == LEGAL[state, action]
    else:
        assert response.status_code == 400, response.text
        error = response.json()
        assert (error["code"], error["number"]) == ("payment_invalid_state", 2017)
        assert await status_of(shop.client, payment_id) == state
        assert await _value(runtime, fresh.serial) == (2500, 0, "ACTIVE")
    assert await ledger_problems(runtime) == []


async def test_partial_use_keeps_the_rest_and_capture_pays_the_merchant(
    runtime: Runtime, shop: Shop
) -> None:
    voucher = await _voucher(runtime)
    first = await new_payment(shop.client, "10.00")
    authorized = await assign(shop.client, first, group_pin(voucher.pin))
    assert authorized["status"] == "AUTHORIZED" and authorized["amount_missing"] == 0
    assert authorized["card_details"] == [
        {
            "serial": voucher.serial,
            "currency": "EUR",
            "amount": 10.0,
            "type": "00001",
            "country": "AT",
        }
    ]
    assert await _value(runtime, voucher.serial) == (1500, 1000, "ACTIVE")
    captured = await shop.client.post(f"/v1/payments/{first}/capture", json={"id": first})
    assert captured.status_code == 200 and captured.json()["status"] == "SUCCESS"
    assert captured.json()["card_details"] == authorized["card_details"]
    assert await _value(runtime, voucher.serial) == (1500, 0, "ACTIVE")
    second = await new_payment(shop.client, "15.00")
    await assign(shop.client, second, voucher.pin)
    assert (await shop.client.post(f"/v1/payments/{second}/capture")).status_code == 200
    assert await _value(runtime, voucher.serial) == (0, 0, "DEPLETED")
    assert await merchant_payable(runtime, shop.mid) == 2500
    third = await new_payment(shop.client, "1.00")
    refused = await assign(shop.client, third, voucher.pin, status=400)
    assert refused["code"] == "pin_not_accepted"
    assert await count(runtime, OutboxEvent) == 4  # two ASSIGN_CARDS, two PAYMENT_CAPTURED
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("covered", [False, True], ids=["partly-held", "authorized"])
async def test_cancel_returns_held_value(runtime: Runtime, shop: Shop, covered: bool) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client, "20.00" if covered else "30.00")
    assigned = await assign(shop.client, payment_id, voucher.pin)
    assert assigned["status"] == ("AUTHORIZED" if covered else "INITIATED")
    held = 2000 if covered else 2500
    assert await _value(runtime, voucher.serial) == (2500 - held, held, "ACTIVE")
    canceled = await shop.client.post(f"/v1/payments/{payment_id}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "CANCELED_MERCHANT"
    assert "card_details" not in canceled.json()
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert await merchant_payable(runtime, shop.mid) == 0
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("opened", [False, True], ids=["INITIATED", "REDIRECTED"])
async def test_unauthorized_payment_expires_after_30_minutes(
    frozen: FrozenClock, runtime: Runtime, shop: Shop, opened: bool
) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client, "30.00")
    if opened:
        await by_customer(runtime, payment_id, "redirect")
    await assign(shop.client, payment_id, voucher.pin)  # 25.00 of 30.00 held
    frozen.advance(AUTHORIZATION_WINDOW - SECOND)
    assert (await run_once(runtime))["expire_payments"] == 0
    frozen.advance(SECOND)
    assert (await run_once(runtime))["expire_payments"] == 1
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    assert payment["status"] == "EXPIRED"
    assert payment["status_before_expiration"] == ("REDIRECTED" if opened else "INITIATED")
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert (await run_once(runtime))["expire_payments"] == 0
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize("window", [600, 60])
async def test_authorized_payment_expires_after_disposition_window(
    frozen: FrozenClock, runtime: Runtime, shop: Shop, window: int
) -> None:
    if window != 600:
        await update_merchant(runtime, shop.mid, disposition_seconds=window)
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    frozen.advance(AUTHORIZATION_WINDOW - timedelta(minutes=1))
    await assign(shop.client, payment_id, voucher.pin)
    # The window starts at authorization and replaces the 30 minutes' deadline.
    frozen.advance(timedelta(seconds=window) - SECOND)
    assert (await run_once(runtime))["expire_payments"] == 0
    assert await status_of(shop.client, payment_id) == "AUTHORIZED"
    frozen.advance(SECOND)
    assert (await run_once(runtime))["expire_payments"] == 1
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["status_before_expiration"]) == ("EXPIRED", "AUTHORIZED")
    assert "card_details" not in payment
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    late = await shop.client.post(f"/v1/payments/{payment_id}/capture")
    assert late.status_code == 400 and late.json()["number"] == 2017
    assert await ledger_problems(runtime) == []


async def test_capture_in_the_last_second_of_the_window(
    frozen: FrozenClock, runtime: Runtime, shop: Shop
) -> None:
    payment_id = await new_payment(shop.client)
    await assign(shop.client, payment_id, (await _voucher(runtime)).pin)
    frozen.advance(timedelta(seconds=600) - SECOND)
    captured = await shop.client.post(f"/v1/payments/{payment_id}/capture")
    assert captured.status_code == 200 and captured.json()["status"] == "SUCCESS"
    assert await ledger_problems(runtime) == []


async def test_capture_after_window_without_worker_is_3007_and_expires(
    frozen: FrozenClock, runtime: Runtime, shop: Shop
) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    await assign(shop.client, payment_id, voucher.pin)
    frozen.advance(timedelta(seconds=600))
    response = await shop.client.post(f"/v1/payments/{payment_id}/capture")
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["number"]) == ("disposition_expired", 3007)
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["status_before_expiration"]) == ("EXPIRED", "AUTHORIZED")
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert await merchant_payable(runtime, shop.mid) == 0
    assert [r.reason for r in await rejections(runtime, "payment.capture")] == [
        "disposition_expired"
    ]
    again = await shop.client.post(f"/v1/payments/{payment_id}/capture")
    assert again.status_code == 400 and again.json()["number"] == 2017
    assert (await run_once(runtime))["expire_payments"] == 0
    assert await ledger_problems(runtime) == []


async def test_assign_after_30_minutes_without_worker_is_refused(
    frozen: FrozenClock, runtime: Runtime, shop: Shop
) -> None:
    first, second = (await issue_vouchers(runtime, count=2, face_value=2500)).vouchers
    payment_id = await new_payment(shop.client, "30.00")
    await assign(shop.client, payment_id, first.pin)  # 25.00 held, 5.00 missing
    frozen.advance(AUTHORIZATION_WINDOW)
    late = await assign(shop.client, payment_id, second.pin, status=400)
    assert (late["code"], late["number"]) == ("payment_invalid_state", 2017)
    assert await _value(runtime, first.serial) == (2500, 0, "ACTIVE")
    assert await _value(runtime, second.serial) == (2500, 0, "ACTIVE")
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["status_before_expiration"]) == ("EXPIRED", "INITIATED")
    assert [r.reason for r in await rejections(runtime, "payment.authorize")] == [
        "authorization_expired"
    ]
    assert await ledger_problems(runtime) == []


async def test_other_merchant_sees_nothing(runtime: Runtime, shop: Shop) -> None:
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    await assign(shop.client, payment_id, voucher.pin)
    other = basic((await create_merchant(runtime, "Rival")).api_key)
    fresh = await _voucher(runtime)
    calls = [
        shop.client.get(f"/v1/payments/{payment_id}", headers=other),
        shop.client.post(f"/v1/payments/{payment_id}/capture", headers=other),
        shop.client.post(f"/v1/payments/{payment_id}/cancel", headers=other),
        shop.client.post(
            f"/v1/payments/{payment_id}/cards", headers=other, json={"pins": [fresh.pin]}
        ),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 404, response.text
        assert (response.json()["code"], response.json()["number"]) == ("payment_not_found", 2002)
    listed = await shop.client.get("/v1/payments", headers=other)
    assert listed.json() == {"object": "list", "data": [], "has_more": False}
    cursor = await shop.client.get(f"/v1/payments?starting_after={payment_id}", headers=other)
    assert cursor.status_code == 404
    assert await status_of(shop.client, payment_id) == "AUTHORIZED"
    assert await _value(runtime, voucher.serial) == (1500, 1000, "ACTIVE")
    assert await _value(runtime, fresh.serial) == (2500, 0, "ACTIVE")
    assert await ledger_problems(runtime) == []


async def test_get_tolerates_json_content_type_and_unknown_id_is_2002(shop: Shop) -> None:
    payment_id = await new_payment(shop.client)
    fetched = await shop.client.get(
        f"/v1/payments/{payment_id}", headers={"Content-Type": "application/json"}
    )
    assert fetched.status_code == 200 and fetched.json()["id"] == payment_id
    unknown = await shop.client.get(f"/v1/payments/pay_{shop.mid}_{'x' * 32}_EUR")
    assert unknown.status_code == 404 and unknown.json()["number"] == 2002


@pytest.mark.parametrize("authorized", [False, True])
async def test_cancel_after_the_deadline_without_worker_expires_it(
    frozen: FrozenClock, runtime: Runtime, shop: Shop, authorized: bool
) -> None:
    # Whether the worker ran first must not change how a payment ends: past its deadline it
    # has expired (PAYMENT_EXPIRED), and a cancel is refused, as a late capture or PIN is.
    voucher = await _voucher(runtime)
    payment_id = await new_payment(shop.client)
    if authorized:
        await assign(shop.client, payment_id, voucher.pin)
    frozen.advance(timedelta(seconds=600) if authorized else AUTHORIZATION_WINDOW)
    late = await shop.client.post(f"/v1/payments/{payment_id}/cancel")
    assert late.status_code == 400 and late.json()["number"] == 2017, late.text
    payment = (await shop.client.get(f"/v1/payments/{payment_id}")).json()
    before = "AUTHORIZED" if authorized else "INITIATED"
    assert (payment["status"], payment["status_before_expiration"]) == ("EXPIRED", before)
    assert await _value(runtime, voucher.serial) == (2500, 0, "ACTIVE")
    assert [r.reason for r in await rejections(runtime, "payment.cancel")] == ["expired"]
    assert (await run_once(runtime))["expire_payments"] == 0
    assert await ledger_problems(runtime) == []
