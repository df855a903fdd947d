"""Lockouts against PIN guessing (API.md 3-4, DESIGN.md "Fraud and abuse"), over HTTP.

Wrong PINs count against the payment, the customer id, the IP, the device cookie, the merchant
and a global tripwire; once any of them is locked even a valid PIN is refused with the one
generic answer, and the voucher is not touched. Each scenario varies every key but the one under
test, so that the lockout rows show which key locked.
"""

import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from pinpay import handlers
from pinpay.app import create_app
from pinpay.audit.models import AuditRecord
from pinpay.errors import PinNotAccepted
from pinpay.fraud.models import Lockout, PinFailure
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher
from pinpay.web import pages
from tests.api_client import Shop, basic, payment_body
from tests.factories import create_merchant, issue_vouchers

BASE_URL = "http://pinpay.test"
GENERIC = PinNotAccepted.default_message
REFUSED = {"code": "pin_not_accepted", "message": GENERIC}
WRONG_PIN = "1111 2222 3333 4444"  # well formed, never issued (issued PINs are random)
FACE = 2500
UNTOUCHED = (FACE, 0, "ACTIVE")


# -- driving the API and the page ------------------------------------------------------------


@dataclass
class Env:
    """One PinPay app over a runtime, and a merchant to drive it."""

    runtime: Runtime
    app: FastAPI
    mid: str
    api_key: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(
        self, ip: str = "127.0.0.1", cookies: dict[str, str] | None = None
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 1234))
        made = httpx.AsyncClient(transport=transport, base_url=BASE_URL, cookies=cookies)
        self.clients.append(made)
        return made

    def merchant(self, api_key: str | None = None) -> httpx.AsyncClient:
        made = self.client()
        made.headers.update(basic(api_key or self.api_key))
        return made

    async def payment(
        self, customer: str, ip: str | None = None, api_key: str | None = None
    ) -> dict[str, Any]:
        customer_part: dict[str, object] = {"id": customer}
        if ip is not None:
            customer_part["ip"] = ip
        created = await self.merchant(api_key).post(
            "/v1/payments", json=payment_body("10.00", customer=customer_part)
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    async def assign(self, payment: dict[str, Any], pin: str, api_key: str | None = None) -> Any:
        """POST /v1/payments/{id}/cards; the response."""
        return await self.merchant(api_key).post(
            f"/v1/payments/{payment['id']}/cards", json={"pins": [pin]}
        )

    async def direct(
        self, customer: str, pin: str, ip: str | None = None, api_key: str | None = None
    ) -> httpx.Response:
        """A fresh payment of `customer` (at `ip`), then one PIN for it over the direct API."""
        payment = await self.payment(customer, ip, api_key)
        response: httpx.Response = await self.assign(payment, pin, api_key)
        return response

    async def page(
        self, customer: str, pin: str, ip: str, device: str | None = None
    ) -> "PageAnswer":
        """A fresh payment of `customer`, opened and answered on the hosted page from `ip`, with
        the device cookie `device` (a new device when None)."""
        payment = await self.payment(customer)
        path = httpx.URL(payment["redirect"]["auth_url"]).path
        browser = self.client(ip, {"pinpay_device": device} if device else None)
        opened = await browser.get(path)
        assert opened.status_code == 200, opened.text
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', opened.text)
        assert found is not None
        answer = await browser.post(path, data={"pin": pin, "csrf": found.group(1)})
        return PageAnswer(payment, path, found.group(1), answer)


@dataclass
class PageAnswer:
    payment: dict[str, Any]
    path: str
    csrf: str
    response: httpx.Response

    @property
    def error(self) -> str | None:
        found = re.search(r'<p class="error" role="alert" id="error">(.*?)</p>', self.response.text)
        return found.group(1) if found else None

    def normalized(self) -> str:
        """The page without what differs between payments (its token and the CSRF token)."""
        token = self.path.rsplit("/", 1)[1]
        return self.response.text.replace(token, "TOKEN").replace(self.csrf, "CSRF")


def build_env(runtime: Runtime, shop: Shop) -> Env:
    return Env(runtime, create_app(runtime.settings, runtime), shop.mid, shop.api_key)


async def close_env(env: Env, *, runtime_too: bool) -> None:
    for made in env.clients:
        await made.aclose()
    if runtime_too:
        redis = getattr(env.runtime.guard.counters, "redis", None)
        if redis is not None:
            await redis.aclose()
        await env.runtime.close()


@pytest.fixture
async def env(runtime: Runtime, shop: Shop) -> AsyncIterator[Env]:
    made = build_env(runtime, shop)
    try:
        yield made
    finally:
        await close_env(made, runtime_too=False)


Tune = Callable[..., Awaitable[Env]]


@asynccontextmanager
async def tuning(runtime: Runtime, shop: Shop) -> AsyncIterator[Tune]:
    built: list[Env] = []

    async def make(**update: Any) -> Env:
        # Another runtime on the same database and keys, with some settings changed.
        other = Runtime.build(runtime.settings.model_copy(update=update), runtime.keyring)
        built.append(build_env(other, shop))
        return built[-1]

    try:
        yield make
    finally:
        for made in built:
            await close_env(made, runtime_too=True)


@pytest.fixture
async def tuned(runtime: Runtime, shop: Shop) -> AsyncIterator[Tune]:
    """Envs over other runtimes with some settings changed: `await tuned(lockout_seconds=1)`."""
    async with tuning(runtime, shop) as make:
        yield make


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


# -- reading rows ------------------------------------------------------------------------------


async def voucher_state(runtime: Runtime, serial: str) -> tuple[int, int, str]:
    async with runtime.transaction() as session:
        row = (
            await session.execute(
                select(Voucher.remaining, Voucher.held, Voucher.status).where(
                    Voucher.serial == serial
                )
            )
        ).one()
    return int(row[0]), int(row[1]), str(row[2])


async def lockouts(runtime: Runtime) -> list[Lockout]:
    async with runtime.transaction() as session:
        return list(await session.scalars(select(Lockout).order_by(Lockout.kind)))


async def lockout_kinds(runtime: Runtime) -> list[str]:
    return [row.kind for row in await lockouts(runtime)]


async def audit_rows(runtime: Runtime, **where: Any) -> list[AuditRecord]:
    async with runtime.transaction() as session:
        query = select(AuditRecord).order_by(AuditRecord.id)
        for name, value in where.items():
            query = query.where(getattr(AuditRecord, name) == value)
        return list(await session.scalars(query))


async def failure_count(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(PinFailure)) or 0)


async def payment_status(env: Env, payment: dict[str, Any]) -> tuple[str, list[Any]]:
    body = (await env.merchant().get(f"/v1/payments/{payment['id']}")).json()
    return body["status"], body.get("card_details", [])


def new_customer(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == REFUSED


def assert_page_refused(answer: PageAnswer) -> None:
    assert answer.response.status_code == 400, answer.response.text
    assert answer.error == GENERIC


# -- 1. one key at a time ----------------------------------------------------------------------


async def test_customer_id_locks_after_five_wrong_pins_on_different_payments(env: Env) -> None:
    runtime = env.runtime
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    customer = new_customer("cust")
    # Five payments, five IPs: only the customer id is common to all five wrong PINs.
    wrong = [await env.direct(customer, WRONG_PIN, ip=f"198.51.100.{i}") for i in range(1, 5)]
    assert await lockout_kinds(runtime) == []
    wrong.append(await env.direct(customer, WRONG_PIN, ip="198.51.100.5"))
    for response in wrong:
        assert_refused(response)
    assert await lockout_kinds(runtime) == ["customer"]

    # A sixth payment of the same customer from a new IP: a valid PIN gets the same answer.
    sixth = await env.payment(customer, ip="198.51.100.6")
    locked = await env.assign(sixth, voucher.pin)
    assert_refused(locked)
    assert locked.content == wrong[0].content
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED
    assert await payment_status(env, sixth) == ("INITIATED", [])

    # Nobody else is locked: another customer of the same shop pays with that voucher.
    other = await env.direct(new_customer("other"), voucher.pin, ip="198.51.100.6")
    assert other.status_code == 200, other.text
    assert other.json()["status"] == "AUTHORIZED"


async def test_ip_locks_the_hosted_page_for_every_customer_at_that_address(env: Env) -> None:
    runtime = env.runtime
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    ip = "203.0.113.7"
    # Five customers, five payments, five devices (a fresh cookie each): one IP in common.
    wrong = [await env.page(new_customer("c"), WRONG_PIN, ip) for _ in range(5)]
    for answer in wrong:
        assert_page_refused(answer)
    assert await lockout_kinds(runtime) == ["ip"]

    locked = await env.page(new_customer("c"), voucher.pin, ip)
    assert_page_refused(locked)
    assert locked.normalized() == wrong[0].normalized()
    assert voucher.pin not in locked.response.text
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED
    assert await payment_status(env, locked.payment) == ("REDIRECTED", [])

    elsewhere = await env.page(new_customer("c"), voucher.pin, "203.0.113.8")
    assert elsewhere.response.status_code == 303, elsewhere.response.text
    assert elsewhere.response.headers["location"].startswith("https://shop.example/ok")


async def test_device_cookie_locks_across_customers_and_ips(env: Env) -> None:
    runtime = env.runtime
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    device = "dev-" + secrets.token_urlsafe(16)
    wrong = [
        await env.page(new_customer("c"), WRONG_PIN, f"192.0.2.{i}", device) for i in range(1, 6)
    ]
    for answer in wrong:
        assert_page_refused(answer)
        assert answer.response.cookies.get("pinpay_device") in (None, device)
    assert await lockout_kinds(runtime) == ["device"]

    locked = await env.page(new_customer("c"), voucher.pin, "192.0.2.6", device)
    assert_page_refused(locked)
    assert locked.normalized() == wrong[0].normalized()
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED

    # The same customer situation from that IP with another device goes through.
    other_device = await env.page(new_customer("c"), voucher.pin, "192.0.2.6")
    assert other_device.response.status_code == 303, other_device.response.text


async def test_merchant_key_counts_balance_checks_and_locks_only_that_merchant(
    runtime: Runtime, tuned: Tune
) -> None:
    env = await tuned(merchant_lockout_threshold=3)
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    check = env.merchant()
    for _ in range(3):  # /v1/vouchers/check carries only the merchant key
        assert_refused(await check.post("/v1/vouchers/check", json={"pin": WRONG_PIN}))
    assert await lockout_kinds(runtime) == ["merchant"]

    assert_refused(await check.post("/v1/vouchers/check", json={"pin": voucher.pin}))
    assert_refused(await env.direct(new_customer("c"), voucher.pin, ip="198.51.100.1"))
    assert_page_refused(await env.page(new_customer("c"), voucher.pin, "198.51.100.2"))
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED

    rival = (await create_merchant(runtime, "Rival")).api_key
    fine = env.merchant(rival)
    checked = await fine.post("/v1/vouchers/check", json={"pin": voucher.pin})
    assert checked.status_code == 200, checked.text
    assert checked.json()["remaining"] == 25.0
    paid = await env.direct(new_customer("c"), voucher.pin, api_key=rival)
    assert paid.status_code == 200, paid.text


async def test_the_refusal_is_one_text_everywhere(env: Env) -> None:
    """Malformed, unknown, used-up PINs and a lockout: byte-identical JSON, one page text."""
    runtime = env.runtime
    used, fresh = (await issue_vouchers(runtime, count=2, face_value=1000)).vouchers
    assert (await env.direct(new_customer("c"), used.pin)).status_code == 200  # now used up
    customer = new_customer("c")
    answers = [
        await env.direct(customer, pin, ip=f"198.51.100.{i}")
        for i, pin in enumerate(["12345", WRONG_PIN, used.pin, "abcd" * 4, WRONG_PIN], 1)
    ]
    answers.append(await env.direct(customer, fresh.pin, ip="198.51.100.9"))  # locked
    assert await lockout_kinds(runtime) == ["customer"]
    check = await env.merchant().post("/v1/vouchers/check", json={"pin": used.pin})
    answers.append(check)
    for response in answers:
        assert_refused(response)
    assert len({r.content for r in answers}) == 1
    pages_seen = [await env.page(new_customer("c"), pin, "203.0.113.50") for pin in ["1", ""]]
    assert {p.error for p in pages_seen} == {GENERIC}


# -- 2. the lockout ends, and a repeat lasts twice as long -------------------------------------


async def test_lockout_ends_after_lockout_seconds_and_doubles_on_repeat(
    env: Env, frozen: FrozenClock
) -> None:
    runtime = env.runtime
    lock_for = timedelta(seconds=runtime.settings.lockout_seconds)
    vouchers = (await issue_vouchers(runtime, count=4, face_value=FACE)).vouchers
    customer = new_customer("cust")
    ips = iter(f"198.51.100.{i}" for i in range(1, 200))

    async def five_wrong() -> datetime:
        for _ in range(5):
            assert_refused(await env.direct(customer, WRONG_PIN, ip=next(ips)))
        return frozen.now()

    locked_at = await five_wrong()
    [first] = await lockouts(runtime)
    assert (first.kind, first.level, first.until) == ("customer", 1, locked_at + lock_for)

    frozen.advance(lock_for - timedelta(seconds=1))
    assert_refused(await env.direct(customer, vouchers[0].pin, ip=next(ips)))
    assert await voucher_state(runtime, vouchers[0].serial) == UNTOUCHED
    frozen.advance(timedelta(seconds=2))
    assert (await env.direct(customer, vouchers[0].pin, ip=next(ips))).status_code == 200

    # Locked again within a day of the first lockout's end: level 2, twice as long.
    locked_again = await five_wrong()
    [second] = await lockouts(runtime)
    assert (second.level, second.until) == (2, locked_again + 2 * lock_for)
    frozen.advance(lock_for + timedelta(seconds=1))  # the first lockout's length is not enough
    assert_refused(await env.direct(customer, vouchers[1].pin, ip=next(ips)))
    assert await voucher_state(runtime, vouchers[1].serial) == UNTOUCHED
    frozen.advance(lock_for)
    assert (await env.direct(customer, vouchers[1].pin, ip=next(ips))).status_code == 200

    # Level 3 once more, then a clean day after it ends: back to level 1.
    await five_wrong()
    assert [(r.level, r.until - frozen.now()) for r in await lockouts(runtime)] == [
        (3, 4 * lock_for)
    ]
    frozen.advance(4 * lock_for + timedelta(days=1, seconds=1))
    assert (await env.direct(customer, vouchers[2].pin, ip=next(ips))).status_code == 200
    relocked_at = await five_wrong()
    [fourth] = await lockouts(runtime)
    assert (fourth.level, fourth.until) == (1, relocked_at + lock_for)


async def test_wrong_pins_outside_the_window_do_not_add_up(env: Env, frozen: FrozenClock) -> None:
    runtime = env.runtime
    window = timedelta(seconds=runtime.settings.lockout_window_seconds)
    customer = new_customer("cust")
    for i in range(4):
        assert_refused(await env.direct(customer, WRONG_PIN, ip=f"198.51.100.{i}"))
    frozen.advance(window + timedelta(seconds=1))
    assert_refused(await env.direct(customer, WRONG_PIN, ip="198.51.100.10"))
    assert await lockout_kinds(runtime) == []
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    assert (await env.direct(customer, voucher.pin, ip="198.51.100.11")).status_code == 200


# -- 3. the global tripwire --------------------------------------------------------------------


async def test_global_tripwire_pauses_pin_entry_for_everyone_then_resumes(
    runtime: Runtime, tuned: Tune, frozen: FrozenClock
) -> None:
    env = await tuned(global_wrong_pins_per_minute=3, global_pause_seconds=60)
    pause = timedelta(seconds=60)
    vouchers = (await issue_vouchers(runtime, count=3, face_value=FACE)).vouchers
    # Three customers, IPs, payments: no per-key threshold (5) is reached, the global one is.
    for i in range(3):
        assert_refused(await env.direct(new_customer("c"), WRONG_PIN, ip=f"198.51.100.{i}"))
    [tripped] = await lockouts(runtime)
    assert (tripped.kind, tripped.level, tripped.until) == ("global", 1, frozen.now() + pause)

    rival = (await create_merchant(runtime, "Rival")).api_key

    async def everyone(voucher_pin: str) -> list[int]:
        return [
            (await env.direct(new_customer("a"), voucher_pin, ip="203.0.113.1")).status_code,
            (await env.direct(new_customer("b"), voucher_pin, api_key=rival)).status_code,
            (
                await env.merchant(rival).post("/v1/vouchers/check", json={"pin": voucher_pin})
            ).status_code,
            (await env.page(new_customer("c"), voucher_pin, "203.0.113.2")).response.status_code,
        ]

    frozen.advance(pause - timedelta(seconds=1))
    assert await everyone(vouchers[0].pin) == [400, 400, 400, 400]
    assert await voucher_state(runtime, vouchers[0].serial) == UNTOUCHED
    assert_refused(await env.direct(new_customer("a"), vouchers[0].pin))

    frozen.advance(timedelta(seconds=2))
    paid = await env.direct(new_customer("a"), vouchers[0].pin, ip="203.0.113.1")
    assert paid.status_code == 200, paid.text
    checked = await env.merchant(rival).post("/v1/vouchers/check", json={"pin": vouchers[1].pin})
    assert checked.status_code == 200, checked.text
    assert (await env.direct(new_customer("b"), vouchers[1].pin, api_key=rival)).status_code == 200
    page = await env.page(new_customer("c"), vouchers[2].pin, "203.0.113.2")
    assert page.response.status_code == 303, page.response.text


# -- 4. audit records and what the counters keep -----------------------------------------------


async def test_lockouts_and_locked_attempts_are_audited_without_clear_identifiers(
    env: Env,
) -> None:
    runtime = env.runtime
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    customer, ip, device = new_customer("cust"), "203.0.113.77", "dev-" + secrets.token_hex(12)
    # Customer, IP and device are the same five times: three keys lock at once.
    payment_ids = []
    for _ in range(5):
        answer = await env.page(customer, WRONG_PIN, ip, device)
        assert_page_refused(answer)
        payment_ids.append(answer.payment["id"])
    assert await lockout_kinds(runtime) == ["customer", "device", "ip"]
    failures_when_locked = await failure_count(runtime)

    refused_while_locked = [
        await env.page(customer, voucher.pin, ip, device),
        await env.page(new_customer("x"), voucher.pin, ip),
    ]
    for answer in refused_while_locked:
        assert_page_refused(answer)
    assert await failure_count(runtime) == failures_when_locked  # a locked attempt counts nothing

    locks = await audit_rows(runtime, action="fraud.lockout")
    assert sorted((r.details or {})["kind"] for r in locks) == ["customer", "device", "ip"]
    for row in locks:
        kind = (row.details or {})["kind"]
        assert (row.outcome, row.actor, row.reason) == ("alert", "fraud", f"{kind}_locked")
        assert row.details is not None and row.details["level"] == 1
        assert row.subject == payment_ids[-1]
    locked_out = await audit_rows(runtime, reason="locked_out")
    assert [(r.action, r.outcome, r.subject) for r in locked_out] == [
        ("voucher.pin_entry", "rejected", a.payment["id"]) for a in refused_while_locked
    ]
    for row in [*locks, *locked_out]:
        assert row.customer_id is None
        assert ip not in repr(row.details) and customer not in repr(row.details)
        assert device not in repr(row.details)

    # pin_failure and lockout rows: keyed hashes only.
    guard = runtime.guard
    async with runtime.transaction() as session:
        failure_rows = (await session.execute(select(PinFailure.__table__))).all()
        lockout_rows = (await session.execute(select(Lockout.__table__))).all()
    assert failure_rows and lockout_rows
    for row in [*failure_rows, *lockout_rows]:
        text = repr(tuple(row))
        for clear in (ip, customer, device):
            assert clear not in text
    # Each stored key is the guard's keyed hash of the value, not a plain digest of it.
    mid = env.mid
    by_kind = {row.kind: row.key_hash for row in await lockouts(runtime)}
    assert by_kind == {
        "customer": guard._hash("customer", f"{mid}:{customer}"),
        "ip": guard._hash("ip", ip),
        "device": guard._hash("device", device),
    }
    for kind, value in (("ip", ip), ("device", device), ("customer", f"{mid}:{customer}")):
        unkeyed = hashlib.sha256(f"lockout|{kind}|{value}".encode()).hexdigest()
        assert unkeyed not in by_kind.values()
    for key_hash in by_kind.values():
        assert re.fullmatch(r"[0-9a-f]{64}", key_hash)


async def test_direct_api_lockout_is_audited_too(env: Env) -> None:
    runtime = env.runtime
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    customer = new_customer("cust")
    for i in range(5):
        await env.direct(customer, WRONG_PIN, ip=f"198.51.100.{i}")
    locked = await env.direct(customer, voucher.pin, ip="198.51.100.99")
    assert_refused(locked)
    [lock] = await audit_rows(runtime, action="fraud.lockout")
    assert (lock.reason, (lock.details or {})["kind"]) == ("customer_locked", "customer")
    [refused] = await audit_rows(runtime, reason="locked_out")
    assert (refused.action, refused.outcome) == ("voucher.pin_entry", "rejected")
    assert refused.actor == "customer" and refused.customer_id is None


# -- 5. every refusal takes the same minimum time ----------------------------------------------


async def test_refusal_floor_delays_refused_pins_only(
    runtime: Runtime, tuned: Tune, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await tuned(pin_refusal_floor_ms=300)
    floors: list[str] = []
    real_floor = handlers.refusal_floor

    async def spy(request: Any) -> None:
        floors.append(request.url.path)
        await real_floor(request)

    monkeypatch.setattr(handlers, "refusal_floor", spy)
    monkeypatch.setattr(pages, "refusal_floor", spy)
    vouchers = (await issue_vouchers(runtime, count=2, face_value=FACE)).vouchers

    async def timed(call: Awaitable[Any]) -> tuple[Any, float]:
        started = time.perf_counter()
        result = await call
        return result, time.perf_counter() - started

    good, _ = await timed(env.direct(new_customer("c"), vouchers[0].pin))
    assert good.status_code == 200, good.text
    assert floors == []  # an accepted PIN never waits for the floor

    payment = await env.payment(new_customer("c"))
    refused, took = await timed(env.assign(payment, WRONG_PIN))
    assert_refused(refused)
    assert took >= 0.3
    checked, took = await timed(env.merchant().post("/v1/vouchers/check", json={"pin": "9" * 16}))
    assert_refused(checked)
    assert took >= 0.3

    # Refused because locked (answered before any PIN lookup): no faster.
    customer = new_customer("locked")
    for i in range(5):
        assert_refused(await env.direct(customer, WRONG_PIN, ip=f"198.51.100.{i}"))
    payment = await env.payment(customer, ip="198.51.100.50")
    locked, took = await timed(env.assign(payment, vouchers[1].pin))
    assert_refused(locked)
    assert took >= 0.3

    page_payment = await env.payment(new_customer("c"))
    path = httpx.URL(page_payment["redirect"]["auth_url"]).path
    browser = env.client("203.0.113.99")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', (await browser.get(path)).text)
    assert csrf is not None
    page, took = await timed(browser.post(path, data={"pin": WRONG_PIN, "csrf": csrf.group(1)}))
    assert page.status_code == 400
    assert took >= 0.3
    assert floors.count(path) == 1 and len(floors) == 9
    assert await voucher_state(runtime, vouchers[1].serial) == UNTOUCHED
