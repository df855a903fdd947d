"""`pinpay customers create|export|erase` as an operator runs them, and the proof that erasing
leaves no personal datum in any column of any table while the ledger still verifies."""

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from pinpay.cli import _register_subcommands, app
from pinpay.config import get_settings
from pinpay.customers import service as customers
from pinpay.customers.logins import LoginGuard
from pinpay.customers.models import CustomerAccount, CustomerSession, EmailVerification
from pinpay.customers.passwords import verify_password
from pinpay.fraud.models import PinFailure
from pinpay.kit.crypto import Keyring
from pinpay.kit.log import configure_logging
from pinpay.models import Base
from pinpay.runtime import Runtime, open_runtime
from tests.api_client import Shop, payment_body
from tests.customers.helpers import (
    PASSWORD,
    Mailbox,
    csrf_of,
    load_pin,
    log_in,
    problems,
    register,
    wallet_balance,
)
from tests.factories import issue_vouchers

Pinpay = Callable[..., Result]
# Distinctive on purpose: a three-letter name could turn up by chance in random tokens.
EMAIL = "Zenobia.Quixotelli@Example.org"
FIRST, LAST, BORN = "Zenobia", "Quixotelli", "1979-03-14"
DATE_FORMS = ("1979-03-14", "14.03.1979", "19790314", "14/03/1979", "03/14/1979")

if not any(group.name == "customers" for group in app.registered_groups):
    _register_subcommands()


@pytest.fixture(autouse=True)
def _fresh_settings_and_logging() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    # The CLI pointed the logs at the runner's (now closed) stream: point them back.
    configure_logging()


@pytest.fixture
def pinpay(database_url: str, keyring: Keyring, runtime: Runtime) -> Pinpay:
    """Runs `pinpay ...` against the test database (`runtime` emptied it on PostgreSQL)."""
    env = {"PINPAY_DATABASE_URL": database_url, "PINPAY_KEYS_JSON": keyring.to_json()}

    def invoke(*args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(app, list(args), env=env, input=stdin)

    return invoke


async def _in_thread(pinpay: Pinpay, *args: str) -> Result:
    """The CLI runs its own event loop, so from an async test it runs in a thread; it points
    the logs at the runner's stream, so they are pointed back afterwards."""
    try:
        return await asyncio.to_thread(pinpay, *args)
    finally:
        configure_logging()


def test_operator_opens_a_verified_account(pinpay: Pinpay, runtime: Runtime) -> None:
    opened = pinpay(
        "customers",
        "create",
        f"--email={EMAIL}",
        f"--first-name={FIRST}",
        f"--last-name={LAST}",
        f"--birth-date={BORN}",
        "--currency=CHF",
        "--password-stdin",
        "--json",
        stdin=f"{PASSWORD}\n",
    )
    assert opened.exit_code == 0, opened.output
    created = json.loads(opened.stdout)
    assert created["email"] == EMAIL.lower() and created["psc_id"].startswith("psc_")
    assert PASSWORD not in opened.output

    async def check() -> None:
        # A runtime of this event loop's own: the fixture's belongs to another loop.
        async with (
            open_runtime(runtime.settings, runtime.keyring) as own,
            own.transaction() as session,
        ):
            account = await customers.find_by_email(session, own.keyring, EMAIL)
            assert account is not None and account.psc_id == created["psc_id"]
            assert (account.status, account.email_verified_at is not None) == ("ACTIVE", True)
            assert await customers.balances(session, account) == {"CHF": 0}
            assert await verify_password(account.password_hash, PASSWORD)

    asyncio.run(check())
    again = pinpay(
        "customers",
        "create",
        f"--email={EMAIL.upper()}",
        "--first-name=X",
        "--last-name=Y",
        "--birth-date=1990-01-01",
    )
    assert again.exit_code == 1 and "exists" in again.output
    bad_date = ["--first-name=X", "--last-name=Y", "--birth-date=14.03.1979"]
    assert pinpay("customers", "create", "--email=a@b.example", *bad_date).exit_code == 2
    assert pinpay("customers", "export", "psc_nobody").exit_code == 1
    assert pinpay("customers", "erase", "nobody@example.org").exit_code == 1


async def _dump(runtime: Runtime) -> tuple[list[str], list[bytes]]:
    """Every value of every row of every table: texts (JSON serialised) and binaries apart."""
    texts: list[str] = []
    blobs: list[bytes] = []
    async with runtime.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        blobs.append(bytes(value))
                    elif isinstance(value, (dict, list)):
                        texts.append(json.dumps(value, ensure_ascii=False))
                    elif value is not None:
                        texts.append(str(value))
    return texts, blobs


def _personal_data_in(texts: list[str], blobs: list[bytes]) -> set[str]:
    needles = {EMAIL.lower(), FIRST.lower(), LAST.lower(), *DATE_FORMS}
    found = {n for n in needles for text in texts if n in text.lower()}
    found |= {n for n in needles for blob in blobs if n.encode() in blob.lower()}
    return found


async def test_export_then_erase_leaves_no_personal_datum_anywhere(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop, pinpay: Pinpay
) -> None:
    # A customer with everything an account gathers: a confirmed address, logins, a wrong
    # password (counted by a key derived from the address), a load, a captured wallet payment.
    signup = {"first_name": FIRST, "last_name": LAST, "birth_date": BORN}
    assert (await register(web, EMAIL, **signup)).status_code == 200
    assert (await web.get(mailbox.verification_path(EMAIL))).status_code == 200
    assert (await log_in(web, EMAIL, password="wrong password!")).status_code == 400
    assert (await log_in(web, EMAIL)).status_code == 303
    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    assert (await load_pin(web, voucher.pin)).status_code == 303
    payment = (await shop.client.post("/v1/payments", json=payment_body("7.50"))).json()
    path = httpx.URL(payment["redirect"]["auth_url"]).path
    page = await web.get(path)
    assert (await web.post(f"{path}/wallet", data={"csrf": csrf_of(page.text)})).status_code == 303
    assert (await shop.client.post(f"/v1/payments/{payment['id']}/capture")).status_code == 200

    async with runtime.transaction() as session:
        account = await customers.find_by_email(session, runtime.keyring, EMAIL)
        assert account is not None
        psc_id = account.psc_id
        sealed = [
            account.email_sealed,
            account.first_name_sealed,
            account.last_name_sealed,
            account.birth_date_sealed,
        ]
    assert all(sealed)
    texts, blobs = await _dump(runtime)
    # The scan sees the data while it is there: sealed, so not in clear even now.
    assert _personal_data_in(texts, blobs) == set()
    assert all(any(s == blob for blob in blobs) for s in sealed if s)

    exported = await _in_thread(pinpay, "customers", "export", EMAIL)
    assert exported.exit_code == 0, exported.output
    data: dict[str, Any] = json.loads(exported.stdout)
    assert data["psc_id"] == psc_id
    assert data["personal_data"] == {
        "email": EMAIL.lower(),
        "first_name": FIRST,
        "last_name": LAST,
        "birth_date": BORN,
    }
    assert data["balances"] == [{"currency": "EUR", "available": "17.50", "held": "0.00"}]
    assert [(h["kind"], h["amount"]) for h in data["history"]] == [
        ("wallet_hold", "-7.50"),
        ("voucher_take", "25.00"),
    ]
    assert data["payments"][0]["payment_id"] == payment["id"]
    assert data["payments"][0]["funds"] == "CAPTURED"
    assert len(data["sessions"]) == 1 and data["password_set"] is True

    erased = await _in_thread(pinpay, "customers", "erase", psc_id, "--json")
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.stdout) == {"psc_id": psc_id, "status": "ERASED"}

    texts, blobs = await _dump(runtime)
    assert _personal_data_in(texts, blobs) == set()
    assert not any(s == blob or (s and s in blob) for s in sealed for blob in blobs)
    async with runtime.transaction() as session:
        row = await session.scalar(select(CustomerAccount).where(CustomerAccount.psc_id == psc_id))
        assert row is not None and row.status == "ERASED" and row.erased_at is not None
        assert (row.email_lookup, row.seal_kid, row.password_hash) == (None, None, None)
        assert await session.scalar(select(CustomerSession.id)) is None
        assert await session.scalar(select(EmailVerification.id)) is None
        # The wrong password's counter keyed by the address is gone; the IP's stays.
        ip_key = LoginGuard(runtime.guard).keys(EMAIL, "127.0.0.1")[1]
        assert list(await session.scalars(select(PinFailure.key_hash))) == [ip_key.hash]
        assert await customers.find_by_email(session, runtime.keyring, EMAIL) is None
    # The login is gone, the ledger keeps the pseudonymous wallet and verifies.
    assert (await web.get("/account")).status_code == 303
    assert "Wrong e-mail address or password." in (await log_in(web, EMAIL)).text
    assert await wallet_balance(runtime, psc_id) == 1750
    assert await problems(runtime) == []

    after = json.loads((await _in_thread(pinpay, "customers", "export", psc_id)).stdout)
    assert set(after["personal_data"].values()) == {None} and after["status"] == "ERASED"
    assert (await _in_thread(pinpay, "customers", "erase", psc_id)).exit_code == 1
