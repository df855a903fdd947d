"""Logging in and out: lockouts for wrong passwords (per address, per IP), CSRF on every form,
the session cookie's flags, sessions that end, and pages that tell nobody who is a customer."""

import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from pinpay.app import create_app
from pinpay.audit.models import AuditRecord
from pinpay.customers.models import CustomerAccount, CustomerSession
from pinpay.fraud.models import Lockout
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.customers.helpers import (
    EMAIL,
    PASSWORD,
    Mailbox,
    csrf_of,
    form_token,
    log_in,
    register,
    signed_up_and_logged_in,
)

WRONG = "not the password at all"


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


def _client(runtime: Runtime, base_url: str, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def other_ip(runtime: Runtime, mailbox: Mailbox) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(runtime, "http://pinpay.test", ip="203.0.113.9") as client:
        yield client


async def _verified(web: httpx.AsyncClient, mailbox: Mailbox, email: str = EMAIL) -> None:
    assert (await register(web, email)).status_code == 200
    assert (await web.get(mailbox.verification_path(email))).status_code == 200


async def test_wrong_passwords_lock_the_address_for_a_while(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, frozen: FrozenClock
) -> None:
    await _verified(web, mailbox)
    for _ in range(runtime.settings.login_lockout_threshold):
        refused = await log_in(web, password=WRONG)
        assert refused.status_code == 400
        assert "Wrong e-mail address or password." in refused.text
    locked = await log_in(web)  # the right password, too late
    assert locked.status_code == 400 and "Too many attempts" in locked.text
    assert "pinpay_session" not in web.cookies
    async with runtime.transaction() as session:
        kinds = set(await session.scalars(select(Lockout.kind)))
        alerts = list(
            await session.scalars(
                select(AuditRecord.reason).where(AuditRecord.action == "fraud.lockout")
            )
        )
    # Only the address: the IP's threshold is wider, and PIN keys (global tripwire,
    # merchants) are never touched by passwords.
    assert kinds == {"login_email"} and alerts == ["login_email_locked"]

    frozen.advance(timedelta(seconds=runtime.settings.login_lockout_seconds + 1))
    assert (await log_in(web)).status_code == 303


async def test_an_unknown_address_is_refused_and_counted_like_a_wrong_password(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await _verified(web, mailbox)
    unknown = await log_in(web, email="nobody@example.org", password=PASSWORD)
    wrong = await log_in(web, password=WRONG)
    assert unknown.status_code == wrong.status_code == 400
    message = "Wrong e-mail address or password."
    assert message in unknown.text and message in wrong.text
    for _ in range(runtime.settings.login_lockout_threshold - 1):
        await log_in(web, email="nobody@example.org", password=PASSWORD)
    assert "Too many attempts" in (await log_in(web, email="nobody@example.org")).text


async def test_wrong_passwords_from_one_ip_lock_that_ip_only(
    runtime: Runtime, web: httpx.AsyncClient, other_ip: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    runtime.settings.login_ip_lockout_threshold = 3
    await _verified(web, mailbox)
    for n in range(3):  # three addresses: no single address reaches its own threshold
        await log_in(web, email=f"guess{n}@example.org", password=WRONG)
    assert "Too many attempts" in (await log_in(web)).text
    assert (await log_in(other_ip)).status_code == 303


async def test_every_form_refuses_a_missing_or_foreign_csrf_token(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, shop: Shop
) -> None:
    await _verified(web, mailbox)
    credentials = {"email": EMAIL, "password": PASSWORD}
    assert (await web.post("/account/login", data=credentials)).status_code == 403
    async with _client(runtime, "http://pinpay.test") as attacker:
        foreign = await form_token(attacker, "/account/login")  # valid, for another device
    forged = await web.post("/account/login", data={**credentials, "csrf": foreign})
    assert forged.status_code == 403 and "pinpay_session" not in web.cookies
    signup = {"email": "eve@example.org", "password": PASSWORD, "first_name": "E"}
    assert (await web.post("/account/register", data=signup)).status_code == 403
    assert len(mailbox.sent) == 1  # only the first sign-up's mail

    assert (await log_in(web)).status_code == 303
    assert (await web.post("/account/load", data={"pin": "1" * 16})).status_code == 403
    assert (await web.post("/account/logout", data={})).status_code == 403
    assert (await web.get("/account")).status_code == 200  # still logged in
    payment = (await shop.client.post("/v1/payments", json=payment_body("5.00"))).json()
    path = httpx.URL(payment["redirect"]["auth_url"]).path
    await web.get(path)
    assert (await web.post(f"{path}/wallet", data={"csrf": foreign})).status_code == 403
    status = (await shop.client.get(f"/v1/payments/{payment['id']}")).json()["status"]
    assert status == "REDIRECTED"


def _set_cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


async def test_session_cookie_is_httponly_lax_and_secure_over_https(
    runtime: Runtime, mailbox: Mailbox
) -> None:
    async with _client(runtime, "http://pinpay.test") as plain:
        await _verified(plain, mailbox)
        cookie = _set_cookie(await log_in(plain), "pinpay_session")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain HTTP (development): the browser would drop it

    async with _client(runtime, "https://pinpay.test") as tls:
        cookie = _set_cookie(await log_in(tls), "pinpay_session")
        assert "secure" in {part.strip().lower() for part in cookie.split(";")[1:]}
        assert (await tls.get("/account")).status_code == 200

    # Behind a TLS-terminating proxy the request arrives as http, yet customers use https:
    # every cookie of these pages is then Secure (the one helper decides for all of them).
    runtime.settings.public_base_url = "https://pay.example"
    async with _client(runtime, "http://pinpay.test") as proxied:
        cookie = _set_cookie(await proxied.get("/account/login"), "pinpay_account_device")
        assert "secure" in {part.strip().lower() for part in cookie.split(";")[1:]}


async def test_the_database_keeps_only_a_digest_of_the_session_and_logout_ends_it(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await signed_up_and_logged_in(web, mailbox)
    token = web.cookies["pinpay_session"]
    async with runtime.transaction() as session:
        stored = list(await session.scalars(select(CustomerSession.token_hash)))
    assert stored == [hashlib.sha256(token.encode()).digest()]

    home = await web.get("/account")
    out = await web.post("/account/logout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303 and "pinpay_session" not in web.cookies
    web.cookies.set("pinpay_session", token, domain="pinpay.test", path="/")  # replayed
    assert (await web.get("/account")).status_code == 303


async def test_a_session_ends_after_its_lifetime(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, frozen: FrozenClock
) -> None:
    await signed_up_and_logged_in(web, mailbox)
    assert (await web.get("/account")).status_code == 200
    frozen.advance(timedelta(seconds=runtime.settings.customer_session_seconds))
    expired = await web.get("/account")
    assert expired.status_code == 303 and expired.headers["location"].startswith("/account/login")


async def test_a_taken_address_gets_the_same_page_and_a_different_mail(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    first = await register(web)
    second = await register(web, EMAIL.upper(), password="another password 2")
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    assert [m.subject for m in mailbox.sent] == [
        "Confirm your PinPay account",
        "Your PinPay account",
    ]
    assert "/account/verify/" not in mailbox.sent[1].body
    async with runtime.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CustomerAccount)) == 1


async def test_a_made_up_or_expired_link_confirms_nothing(
    runtime: Runtime, web: httpx.AsyncClient, mailbox: Mailbox, frozen: FrozenClock
) -> None:
    assert (await web.get("/account/verify/made-up-token")).status_code == 400
    await register(web)
    frozen.advance(timedelta(seconds=runtime.settings.email_verification_seconds))
    assert (await web.get(mailbox.verification_path(EMAIL))).status_code == 400
    assert "confirm your e-mail address first" in (await log_in(web)).text


async def test_invalid_sign_ups_are_refused_with_the_form_kept(
    web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    short = await register(web, password="short")
    assert short.status_code == 400 and "(password)" in short.text
    assert EMAIL in short.text  # the form keeps what was typed, except the password
    not_mail = await register(web, email="not-an-address")
    assert not_mail.status_code == 400 and "(email)" in not_mail.text
    unborn = await register(web, email="b@example.org", birth_date="2999-01-01")
    assert unborn.status_code == 400 and "(birth_date)" in unborn.text
    assert mailbox.sent == []


async def test_account_pages_are_locked_down_and_speak_german(web: httpx.AsyncClient) -> None:
    page = await web.get("/account/login", headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert "Bei Ihrem PinPay-Konto anmelden" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    english = await web.get("/account/register?lang=en", headers={"Accept-Language": "de"})
    assert "Create your PinPay account" in english.text


async def test_login_never_redirects_off_site(web: httpx.AsyncClient, mailbox: Mailbox) -> None:
    await _verified(web, mailbox)
    page = await web.get("/account/login?next=https://evil.example/")
    assert "evil.example" not in page.text
    outside = await log_in(web, next_page="//evil.example/x")
    assert outside.headers["location"] == "/account"
