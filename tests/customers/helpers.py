"""Plain helpers for the customer account tests: a fake mailbox and the steps a customer takes."""

import re
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from pinpay.audit.verify import verify_all
from pinpay.customers.service import WALLET
from pinpay.kit.mail import MailMessage
from pinpay.ledger import service as ledger
from pinpay.merchants.models import Merchant
from pinpay.payments.models import CardAssignment, Payment, WalletAssignment
from pinpay.runtime import Runtime

EMAIL = "Ada.Lovelace@Example.org"
PASSWORD = "correct horse battery"
FIRST, LAST, BORN = "Ada", "Lovelace", "1985-12-10"
_VERIFY_LINK = re.compile(r"https?://[^\s/]+(/account/verify/[A-Za-z0-9_-]+)")


@dataclass
class Mailbox:
    """The injected mail sender: keeps every message instead of talking to a mail server."""

    sent: list[MailMessage] = field(default_factory=list)

    async def send(self, message: MailMessage) -> None:
        self.sent.append(message)

    def verification_path(self, to: str) -> str:
        for message in reversed(self.sent):
            found = _VERIFY_LINK.search(message.body)
            if message.to == to.lower() and found:
                return found.group(1)
        raise AssertionError(f"no verification mail to {to}")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None, html
    return found.group(1)


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def register(
    client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    data = {
        "email": email,
        "password": password,
        "first_name": FIRST,
        "last_name": LAST,
        "birth_date": BORN,
        "csrf": await form_token(client, "/account/register"),
        **extra,
    }
    return await client.post("/account/register", data=data)


async def log_in(
    client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD, next_page: str = ""
) -> httpx.Response:
    token = await form_token(client, "/account/login")
    data = {"email": email, "password": password, "csrf": token}
    if next_page:
        data["next"] = next_page
    return await client.post("/account/login", data=data)


async def signed_up_and_logged_in(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str = EMAIL
) -> None:
    assert (await register(client, email)).status_code == 200
    assert (await client.get(mailbox.verification_path(email))).status_code == 200
    logged_in = await log_in(client, email)
    assert logged_in.status_code == 303, logged_in.text


async def load_pin(client: httpx.AsyncClient, pin: str) -> httpx.Response:
    token = await form_token(client, "/account/load")
    return await client.post("/account/load", data={"pin": pin, "csrf": token})


async def problems(runtime: Runtime) -> list[str]:
    """`pinpay audit verify`, plus each merchant's payable against what it captured from
    vouchers and wallets together."""
    captured: dict[tuple[str, str], int] = defaultdict(int)
    async with runtime.transaction() as session:
        found = list((await verify_all(session, runtime.keyring)).problems)
        for model in (CardAssignment, WalletAssignment):
            rows = await session.execute(
                select(Merchant.mid, model.currency, func.sum(model.amount))
                .join(Payment, Payment.id == model.payment_id)
                .join(Merchant, Merchant.id == Payment.merchant_id)
                .where(model.status == "CAPTURED")
                .group_by(Merchant.mid, model.currency)
            )
            for mid, currency, total in rows:
                captured[(mid, currency)] += int(total)
        for (mid, currency), total in captured.items():
            payable = await ledger.balance(session, ledger.MERCHANT, mid, currency)
            if payable != total:
                found.append(f"merchant {mid} {currency}: payable {payable}, captured {total}")
    return found


async def wallet_balance(runtime: Runtime, psc_id: str, currency: str = "EUR") -> int:
    async with runtime.transaction() as session:
        return await ledger.balance(session, WALLET, psc_id, currency)
