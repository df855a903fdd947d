"""The outbox: written with the change it reports, delivered once per worker round at most,
re-delivered after a crash, signed so that receivers can tell it is genuine and fresh."""

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from pinpay import webhooks
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.merchants import admin
from pinpay.notifications import delivery
from pinpay.notifications.models import OutboxEvent, WebhookAttempt
from pinpay.payments import service as payments
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.factories import issue_vouchers


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    previous = use_clock(frozen)
    yield frozen
    use_clock(previous)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(204)


def receive(runtime: Runtime) -> Receiver:
    receiver = Receiver()
    runtime.http_transport = httpx.MockTransport(receiver)
    runtime.settings.webhook_allow_private = True
    return receiver


async def authorize(runtime: Runtime, shop: Shop) -> str:
    payment = (await shop.client.post("/v1/payments", json=payment_body("10.00"))).json()
    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    response = await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": [pin]})
    assert response.json()["status"] == "AUTHORIZED"
    return str(payment["id"])


async def events(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def test_no_event_for_a_rolled_back_change(runtime: Runtime, shop: Shop) -> None:
    payment_id = await authorize(runtime, shop)
    assert await events(runtime) == 1
    with pytest.raises(RuntimeError):
        async with runtime.transaction() as session:
            merchant = await admin.get(session, shop.mid)
            payment = await payments.get(session, merchant, payment_id, lock=True)
            await payments.capture(session, merchant, payment_id)
            assert payment.status == "SUCCESS"
            raise RuntimeError("the process dies before commit")
    assert await events(runtime) == 1  # the capture's event went with its rollback


async def test_a_claimed_event_is_sent_again_after_a_crash(
    runtime: Runtime, shop: Shop, clock: FrozenClock
) -> None:
    receiver = receive(runtime)
    await authorize(runtime, shop)
    async with runtime.transaction() as session:  # a worker claims it, then dies
        claimed = await delivery._claim(session, runtime.keyring, 10)
    assert len(claimed) == 1 and receiver.requests == []
    assert await delivery.deliver_due(runtime) == 0  # leased: nobody else takes it meanwhile
    clock.advance(delivery.LEASE + timedelta(seconds=1))
    assert await delivery.deliver_due(runtime) == 1
    assert len(receiver.requests) == 1


@pytest.mark.postgres_only
async def test_two_workers_never_send_an_event_twice(runtime: Runtime, shop: Shop) -> None:
    receiver = receive(runtime)
    for _ in range(6):
        await authorize(runtime, shop)
    rounds = await asyncio.gather(*(delivery.deliver_due(runtime) for _ in range(4)))
    assert sum(rounds) == 6
    assert len(receiver.requests) == 6
    async with runtime.transaction() as session:
        attempts = await session.scalar(select(func.count()).select_from(WebhookAttempt))
    assert attempts == 6


async def test_json_notifications_per_merchant_setting(runtime: Runtime, shop: Shop) -> None:
    receiver = receive(runtime)
    async with runtime.transaction() as session:
        await admin.update_merchant(
            session, shop.mid, admin.MerchantChanges(notification_format="json")
        )
    payment_id = await authorize(runtime, shop)
    await delivery.deliver_due(runtime)
    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["eventType"] == "ASSIGN_CARDS" and body["version"] == "1"
    assert body["data"]["payment_id"] == payment_id and body["data"]["mid"] == shop.mid
    assert body["data"]["customer"] == {"id": "cust-0001"}


async def test_signature_verifies_and_rotation_signs_with_both_secrets(
    runtime: Runtime, shop: Shop, clock: FrozenClock
) -> None:
    receiver = receive(runtime)
    async with runtime.transaction() as session:
        merchant = await admin.get(session, shop.mid)
        from pinpay.merchants.service import webhook_secrets

        (old,) = await webhook_secrets(session, runtime.keyring, merchant)
        new = await admin.rotate_webhook_secret(session, runtime.keyring, shop.mid)
    await authorize(runtime, shop)
    await delivery.deliver_due(runtime)
    (request,) = receiver.requests
    now = clock.now().timestamp()
    assert request.headers[webhooks.HEADER].count("v1=") == 2
    webhooks.verify(old, request.headers, request.content, now=now)
    webhooks.verify([new], request.headers, request.content, now=now)
    clock.advance(admin.ROTATION_OVERLAP + timedelta(minutes=1))
    await authorize(runtime, shop)
    await delivery.deliver_due(runtime)
    later = receiver.requests[-1]
    assert later.headers[webhooks.HEADER].count("v1=") == 1  # the old secret stopped signing
    webhooks.verify(new, later.headers, later.content, now=clock.now().timestamp())
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(old, later.headers, later.content, now=clock.now().timestamp())


def test_verify_refuses_tampered_body_wrong_secret_and_stale_timestamp() -> None:
    body = b"mtid=pay_1&eventType=ASSIGN_CARDS"
    headers = {webhooks.HEADER: webhooks.sign(["whsec_right"], body, timestamp=1_000_000)}
    webhooks.verify("whsec_right", headers, body, now=1_000_100)
    for secret, sent, now in [
        ("whsec_right", body + b"&amount=999", 1_000_100),  # tampered body
        ("whsec_wrong", body, 1_000_100),  # wrong secret
        ("whsec_right", body, 1_000_301),  # older than 300 s
        ("whsec_right", body, 999_600),  # from the future beyond tolerance
    ]:
        with pytest.raises(webhooks.InvalidSignature):
            webhooks.verify(secret, headers, sent, now=now)
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify("whsec_right", {}, body)
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify("whsec_right", {webhooks.HEADER: "t=abc,v1="}, body)


def test_default_retries_are_at_least_five_and_span_at_least_an_hour() -> None:
    from pinpay.config import Settings

    settings = Settings()
    retries = settings.webhook_max_attempts - 1
    shortest = sum(
        (
            delivery.retry_delay(n, settings.webhook_first_retry_seconds)
            for n in range(1, retries + 1)
        ),
        timedelta(),
    )
    assert retries >= 5
    assert shortest >= timedelta(hours=1)
