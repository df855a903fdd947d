"""A customer's whole way through, over HTTP against the real app: sign up, confirm the address
from the mail, log in, load a voucher, see balance and history, pay a merchant's payment from
the wallet on the hosted page, the merchant captures; the ledger then verifies clean."""

import html
import re

import httpx

from pinpay.customers import service as customers
from pinpay.kit.ids import group_pin
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
    wallet_balance,
)
from tests.factories import issue_vouchers
from tests.payments.helpers import merchant_payable, voucher_by_serial


async def _psc_id(runtime: Runtime, email: str = EMAIL) -> str:
    async with runtime.transaction() as session:
        account = await customers.find_by_email(session, runtime.keyring, email)
    assert account is not None
    return account.psc_id


async def test_sign_up_load_a_voucher_and_pay_from_the_wallet(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    signed_up = await register(web)
    assert signed_up.status_code == 200
    assert "We have sent you an e-mail" in signed_up.text
    assert [m.to for m in mailbox.sent] == ["ada.lovelace@example.org"]
    first_link = mailbox.verification_path(EMAIL)

    # Not confirmed yet: no login, but a fresh link.
    early = await log_in(web)
    assert early.status_code == 200 and "confirm your e-mail address first" in early.text
    assert "pinpay_session" not in web.cookies
    assert len(mailbox.sent) == 2

    confirmed = await web.get(first_link)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.text
    assert (await web.get(first_link)).status_code == 400  # a link works once

    logged_in = await log_in(web)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/account"
    home = await web.get("/account")
    assert home.status_code == 200 and "No transactions yet." in home.text

    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    loaded = await load_pin(web, group_pin(voucher.pin))
    assert loaded.status_code == 303 and loaded.headers["location"] == "/account?done=loaded"
    home = await web.get(loaded.headers["location"])
    assert "now in your account" in home.text
    assert "25.00 EUR" in home.text
    assert f"Voucher loaded •••• {voucher.serial[-4:]}" in home.text
    drained = await voucher_by_serial(runtime, voucher.serial)
    assert (drained.remaining, drained.held, drained.status) == (0, 0, "DEPLETED")
    psc_id = await _psc_id(runtime)
    assert await wallet_balance(runtime, psc_id) == 2500

    # Log out; the hosted page then offers a login that comes back to it.
    logout = await web.post("/account/logout", data={"csrf": csrf_of(home.text)})
    assert logout.status_code == 303
    assert (await web.get("/account")).headers["location"].startswith("/account/login")

    payment = (await shop.client.post("/v1/payments", json=payment_body("12.50"))).json()
    path = httpx.URL(payment["redirect"]["auth_url"]).path
    page = await web.get(path)
    login_link = re.search(r'href="([^"]+)" id="wallet-login"', page.text)
    assert login_link is not None
    next_page = httpx.URL(html.unescape(login_link.group(1))).params["next"]
    assert next_page == path
    back = await log_in(web, next_page=next_page)
    assert back.status_code == 303 and back.headers["location"] == path

    page = await web.get(path)
    assert 'Your balance: <strong id="wallet-balance">25.00 EUR</strong>' in page.text
    assert 'id="pay-wallet"' in page.text
    paid = await web.post(f"{path}/wallet", data={"csrf": csrf_of(page.text)})
    assert paid.status_code == 303
    assert paid.headers["location"] == payment["redirect"]["success_url"]
    authorized = (await shop.client.get(f"/v1/payments/{payment['id']}")).json()
    assert authorized["status"] == "AUTHORIZED"
    home = await web.get("/account")
    assert "12.50 EUR" in home.text and "Reserved for open payments" in home.text

    captured = await shop.client.post(f"/v1/payments/{payment['id']}/capture")
    assert captured.status_code == 200 and captured.json()["status"] == "SUCCESS"

    home = await web.get("/account")
    assert "Reserved" not in home.text
    assert "Payment Test Shop" in home.text and "-12.50 EUR" in home.text
    assert await wallet_balance(runtime, psc_id) == 1250
    assert await merchant_payable(runtime, shop.mid) == 1250
    assert await problems(runtime) == []
