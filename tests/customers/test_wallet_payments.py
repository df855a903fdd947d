"""Paying from the wallet: cancel and expiry give the value back, PINs and wallet mix, a short
balance or a minimum age refuses, loading a voucher takes its value (and counts wrong PINs),
and two payments racing for one balance cannot both take it."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from pinpay.audit.models import AuditRecord
from pinpay.customers import service as customers
from pinpay.customers.models import CustomerAccount
from pinpay.fraud.models import Lockout
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.payments import service as payments
from pinpay.payments import wallet as wallet_payment
from pinpay.payments.models import WalletAssignment
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.customers.helpers import (
    EMAIL,
    Mailbox,
    csrf_of,
    load_pin,
    log_in,
    problems,
    register,
    signed_up_and_logged_in,
    wallet_balance,
)
from tests.factories import issue_vouchers
from tests.payments.helpers import assign, merchant_payable, voucher_by_serial


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


async def _account(runtime: Runtime, email: str = EMAIL) -> CustomerAccount:
    async with runtime.transaction() as session:
        account = await customers.find_by_email(session, runtime.keyring, email)
    assert account is not None
    return account


async def _funded(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, value: int = 2500
) -> str:
    """A logged-in customer with `value` in the wallet; returns the psc id."""
    await signed_up_and_logged_in(web, mailbox)
    voucher = (await issue_vouchers(runtime, face_value=value)).vouchers[0]
    assert (await load_pin(web, voucher.pin)).status_code == 303
    return (await _account(runtime)).psc_id


async def _page(shop: Shop, web: httpx.AsyncClient, amount: str, **body: object) -> tuple[str, str]:
    created = await shop.client.post("/v1/payments", json=payment_body(amount, **body))
    assert created.status_code == 201, created.text
    path = httpx.URL(created.json()["redirect"]["auth_url"]).path
    return created.json()["id"], path


async def _pay(web: httpx.AsyncClient, path: str) -> httpx.Response:
    page = await web.get(path)
    return await web.post(f"{path}/wallet", data={"csrf": csrf_of(page.text)})


async def _status(shop: Shop, payment_id: str) -> str:
    return str((await shop.client.get(f"/v1/payments/{payment_id}")).json()["status"])


@pytest.mark.parametrize("ending", ["cancel", "expire"])
async def test_cancel_and_expiry_give_the_value_back_to_wallet_and_voucher(
    runtime: Runtime,
    web: httpx.AsyncClient,
    mailbox: Mailbox,
    shop: Shop,
    frozen: FrozenClock,
    ending: str,
) -> None:
    psc_id = await _funded(runtime, web, mailbox, value=2500)
    payment_id, path = await _page(shop, web, "30.00")
    voucher = (await issue_vouchers(runtime, face_value=1000)).vouchers[0]
    partly = await assign(shop.client, payment_id, voucher.pin)  # 10.00 from a PIN
    assert partly["amount_missing"] == 20.0
    assert (await _pay(web, path)).status_code == 303  # the wallet pays the other 20.00
    assert await _status(shop, payment_id) == "AUTHORIZED"
    assert await wallet_balance(runtime, psc_id) == 500
    assert await problems(runtime) == []

    if ending == "cancel":
        canceled = await shop.client.post(f"/v1/payments/{payment_id}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED_MERCHANT"
    else:
        frozen.advance(timedelta(seconds=600))
        async with runtime.transaction() as session:
            assert await payments.expire_due(session) == 1
        assert await _status(shop, payment_id) == "EXPIRED"

    assert await wallet_balance(runtime, psc_id) == 2500
    back = await voucher_by_serial(runtime, voucher.serial)
    assert (back.remaining, back.held) == (1000, 0)
    async with runtime.transaction() as session:
        statuses = list(await session.scalars(select(WalletAssignment.status)))
    assert statuses == ["RELEASED"]
    assert await merchant_payable(runtime, shop.mid) == 0
    home = await web.get("/account")
    assert "Payment returned Test Shop" in home.text and "+20.00 EUR" in home.text
    assert await problems(runtime) == []


async def test_a_short_balance_offers_no_button_and_refuses_a_forced_post(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    psc_id = await _funded(runtime, web, mailbox, value=1000)
    payment_id, path = await _page(shop, web, "10.01")
    page = await web.get(path)
    assert "10.00 EUR" in page.text and 'id="wallet-short"' in page.text
    assert 'id="pay-wallet"' not in page.text
    forced = await web.post(f"{path}/wallet", data={"csrf": csrf_of(page.text)})
    assert forced.status_code == 400 and "does not cover" in forced.text
    assert await _status(shop, payment_id) == "REDIRECTED"
    assert await wallet_balance(runtime, psc_id) == 1000
    async with runtime.transaction() as session:
        reasons = list(
            await session.scalars(
                select(AuditRecord.reason).where(
                    AuditRecord.action == "wallet.hold", AuditRecord.outcome == "rejected"
                )
            )
        )
    assert reasons == ["insufficient_balance"]


async def test_a_logged_out_customer_is_sent_to_log_in(
    web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    payment_id, path = await _page(shop, web, "5.00")
    page = await web.get(path)
    refused = await web.post(f"{path}/wallet", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/account/login?next={path}"
    assert await _status(shop, payment_id) == "REDIRECTED"


async def test_the_merchants_minimum_age_is_checked_against_the_account(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    young = date.today().replace(year=date.today().year - 16).isoformat()
    assert (await register(web, birth_date=young)).status_code == 200
    assert (await web.get(mailbox.verification_path(EMAIL))).status_code == 200
    assert (await log_in(web)).status_code == 303
    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    assert (await load_pin(web, voucher.pin)).status_code == 303

    adults_only, path = await _page(shop, web, "5.00", customer={"id": "c-1", "min_age": 18})
    refused = await _pay(web, path)
    assert refused.status_code == 400 and "cannot pay this payment" in refused.text
    assert await _status(shop, adults_only) == "REDIRECTED"
    sixteen_plus, path = await _page(shop, web, "5.00", customer={"id": "c-1", "min_age": 16})
    assert (await _pay(web, path)).status_code == 303
    assert await _status(shop, sixteen_plus) == "AUTHORIZED"


async def test_loading_takes_what_is_left_and_keeps_what_is_held(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    psc_id = await _funded(runtime, web, mailbox, value=500)
    used_up = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    await assign(shop.client, (await _page(shop, web, "30.00"))[0], used_up.pin)  # all held
    assert (await load_pin(web, used_up.pin)).status_code == 400  # nothing left to take

    partly = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    authorized, _ = await _page(shop, web, "10.00")
    await assign(shop.client, authorized, partly.pin)  # 10.00 held, 15.00 left
    assert (await load_pin(web, partly.pin)).status_code == 303
    kept = await voucher_by_serial(runtime, partly.serial)
    assert (kept.remaining, kept.held, kept.status) == (0, 1000, "ACTIVE")
    captured = await shop.client.post(f"/v1/payments/{authorized}/capture")
    assert captured.json()["status"] == "SUCCESS"
    spent = await voucher_by_serial(runtime, partly.serial)
    assert (spent.remaining, spent.held, spent.status) == (0, 0, "DEPLETED")

    usd = (await issue_vouchers(runtime, face_value=2000, currency="USD")).vouchers[0]
    assert (await load_pin(web, usd.pin)).status_code == 303
    assert await wallet_balance(runtime, psc_id, "EUR") == 2000
    assert await wallet_balance(runtime, psc_id, "USD") == 2000
    home = await web.get("/account")
    assert "20.00 EUR" in home.text and "20.00 USD" in home.text
    assert await problems(runtime) == []


async def test_wrong_pins_on_the_load_page_lock_like_on_the_payment_page(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await signed_up_and_logged_in(web, mailbox)
    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    wrong = "1111222233334444" if voucher.pin != "1111222233334444" else "1111222233334445"
    for attempt in [wrong] * (runtime.settings.lockout_threshold - 1) + ["12345"]:
        refused = await load_pin(web, attempt)
        assert refused.status_code == 400
        assert "This PIN cannot be used. Please check it and try again." in refused.text
    locked = await load_pin(web, voucher.pin)  # the right PIN, while locked
    assert locked.status_code == 400
    assert (await voucher_by_serial(runtime, voucher.serial)).remaining == 2500
    async with runtime.transaction() as session:
        kinds = set(await session.scalars(select(Lockout.kind)))
    assert {"customer", "ip", "device"} <= kinds


@pytest.mark.postgres_only
async def test_two_payments_racing_for_one_balance_cannot_both_take_it(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    psc_id = await _funded(runtime, web, mailbox, value=1000)
    tokens = [(await _page(shop, web, "10.00"))[1].rsplit("/", 1)[1] for _ in range(2)]

    async def pay(page_token: str) -> str:
        try:
            async with runtime.unit_of_work() as session:
                found = await payments.by_page_token(session, page_token, lock=True)
                account = await customers.find_by_psc_id(session, psc_id)
                assert found is not None and account is not None
                await wallet_payment.pay_with_wallet(
                    session, runtime.keyring, found[0], found[1], account
                )
        except customers.InsufficientWalletBalance:
            return "refused"
        return "paid"

    assert sorted(await asyncio.gather(*(pay(t) for t in tokens))) == ["paid", "refused"]
    assert await wallet_balance(runtime, psc_id) == 0
    assert await problems(runtime) == []


async def test_audit_verify_notices_held_wallet_value_changed_behind_its_back(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    psc_id = await _funded(runtime, web, mailbox, value=1000)
    _, path = await _page(shop, web, "4.00")
    assert (await _pay(web, path)).status_code == 303
    assert await problems(runtime) == []
    async with runtime.transaction() as session:
        await session.execute(update(WalletAssignment).values(status="RELEASED"))
    found = await problems(runtime)
    assert found == [f"wallet_held:{psc_id} EUR: journal balance 400 has no account row"]
