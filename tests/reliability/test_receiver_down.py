"""A merchant's notification endpoint down for ten minutes gets every event afterwards, once
each, in order per payment (time moved by the injected clock; the receiver is the fake third
party)."""

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.notifications.delivery import deliver_due
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.factories import issue_vouchers

DOWN_FOR = timedelta(minutes=10)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock()
    previous = use_clock(frozen)
    yield frozen
    use_clock(previous)


async def test_every_event_arrives_once_after_ten_minutes_down(
    runtime: Runtime, shop: Shop, clock: FrozenClock
) -> None:
    back_at = clock.now() + DOWN_FOR
    delivered: list[tuple[str, str]] = []
    refused = 0

    def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        if clock.now() < back_at:
            refused += 1
            return httpx.Response(503)
        form = parse_qs(request.content.decode())
        delivered.append((form["mtid"][0], form["eventType"][0]))
        return httpx.Response(200)

    runtime.http_transport = httpx.MockTransport(receiver)
    runtime.settings.webhook_allow_private = True
    pins = [v.pin for v in (await issue_vouchers(runtime, count=6, face_value=1000)).vouchers]
    expected = []
    for n, pin in enumerate(pins):  # six payments: authorized, half of them captured
        body = payment_body("10.00", customer={"id": f"down-{n}"})
        payment_id = (await shop.client.post("/v1/payments", json=body)).json()["id"]
        await shop.client.post(f"/v1/payments/{payment_id}/cards", json={"pins": [pin]})
        expected.append((payment_id, "ASSIGN_CARDS"))
        if n % 2 == 0:
            await shop.client.post(f"/v1/payments/{payment_id}/capture")
            expected.append((payment_id, "PAYMENT_CAPTURED"))
        await deliver_due(runtime)  # the worker keeps trying while the receiver is down

    for _ in range(4 * 60):  # the worker's rounds over four hours, every minute
        clock.advance(timedelta(minutes=1))
        await deliver_due(runtime)

    assert refused > 0  # it really was down
    assert Counter(delivered) == Counter(expected)  # every event, once
    for payment_id, _ in expected:  # in order per payment
        events = [event for pid, event in delivered if pid == payment_id]
        assert events == [e for pid, e in expected if pid == payment_id]
