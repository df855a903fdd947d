"""Notification delivery to a fake merchant server (the one third party), injected as transport."""

from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from pinpay import webhooks
from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.notifications.delivery import deliver_due
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.factories import issue_vouchers


class Receiver:
    """A merchant endpoint that fails its first `failures` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[httpx.Request] = []
        self.accepted: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if len(self.calls) <= self.failures:
            return httpx.Response(503)
        self.accepted.append(request)
        return httpx.Response(200)


@pytest.fixture
def clock() -> FrozenClock:
    frozen = FrozenClock()
    previous = use_clock(frozen)
    yield frozen
    use_clock(previous)


async def _authorized_payment(runtime: Runtime, shop: Shop) -> str:
    payment = (await shop.client.post("/v1/payments", json=payment_body("10.00"))).json()
    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    response = await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": [pin]})
    assert response.json()["status"] == "AUTHORIZED"
    return str(payment["id"])


async def test_signed_form_notification_after_retries_in_order(
    runtime: Runtime, shop: Shop, clock: FrozenClock
) -> None:
    receiver = Receiver(failures=3)
    runtime.http_transport = httpx.MockTransport(receiver)
    runtime.settings.webhook_allow_private = True
    payment_id = await _authorized_payment(runtime, shop)
    captured = await shop.client.post(f"/v1/payments/{payment_id}/capture")
    assert captured.json()["status"] == "SUCCESS"
    for _ in range(12):
        await deliver_due(runtime)
        clock.advance(timedelta(hours=1))
    events = [parse_qs(r.content.decode())["eventType"][0] for r in receiver.accepted]
    assert events == ["ASSIGN_CARDS", "PAYMENT_CAPTURED"]
    assert len(receiver.calls) == 5  # three refusals, then each event once
    first = receiver.accepted[0]
    form = parse_qs(first.content.decode())
    assert form["mtid"] == [payment_id]
    assert form["serialNumbers"][0].endswith(";EUR;10.00;00001;")
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify("whsec_wrong", first.headers, first.content, now=clock.now().timestamp())


async def test_private_receivers_are_refused_by_default(runtime: Runtime, shop: Shop) -> None:
    receiver = Receiver()
    runtime.http_transport = httpx.MockTransport(receiver)
    await _authorized_payment(runtime, shop)
    assert await deliver_due(runtime) == 1
    assert receiver.calls == []  # shop.example resolves nowhere public here, or is refused
