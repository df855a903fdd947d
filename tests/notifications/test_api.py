"""Merchants see every notification with its attempts, and can have one sent again."""

import httpx

from pinpay.notifications.delivery import deliver_due
from pinpay.runtime import Runtime
from tests.api_client import Shop, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.payments.conftest import basic


async def _authorized(runtime: Runtime, shop: Shop) -> str:
    payment = (await shop.client.post("/v1/payments", json=payment_body("10.00"))).json()
    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": [pin]})
    return str(payment["id"])


async def test_attempts_are_listed_and_a_notification_can_be_resent(
    runtime: Runtime, shop: Shop
) -> None:
    answers = iter([500, 200, 200])
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(next(answers))

    runtime.http_transport = httpx.MockTransport(receiver)
    runtime.settings.webhook_allow_private = True
    runtime.settings.webhook_first_retry_seconds = 0.000001
    payment_id = await _authorized(runtime, shop)
    await deliver_due(runtime)
    await deliver_due(runtime)
    listed = (await shop.client.get(f"/v1/payments/{payment_id}/notifications")).json()
    (event,) = listed["data"]
    assert event["id"].startswith("evt_") and event["event_type"] == "ASSIGN_CARDS"
    assert event["status"] == "DELIVERED"
    assert [a["http_status"] for a in event["attempts"]] == [500, 200]

    resent = await shop.client.post(f"/v1/notifications/{event['id']}/resend")
    assert resent.status_code == 200 and resent.json()["status"] == "PENDING"
    await deliver_due(runtime)
    assert len(received) == 3
    again = (await shop.client.get(f"/v1/payments/{payment_id}/notifications")).json()
    assert again["data"][0]["status"] == "DELIVERED"
    assert len(again["data"][0]["attempts"]) == 3


async def test_another_merchants_notification_is_unknown(
    runtime: Runtime, shop: Shop, api: httpx.AsyncClient
) -> None:
    payment_id = await _authorized(runtime, shop)
    event = (await shop.client.get(f"/v1/payments/{payment_id}/notifications")).json()["data"][0]
    other = await create_merchant(runtime, name="Other")
    headers = basic(other.api_key)
    listed = await api.get(f"/v1/payments/{payment_id}/notifications", headers=headers)
    assert listed.status_code == 404
    resend = await api.post(f"/v1/notifications/{event['id']}/resend", headers=headers)
    assert (resend.status_code, resend.json()["code"]) == (404, "notification_not_found")


async def test_no_notification_url_means_nothing_is_owed(runtime: Runtime, shop: Shop) -> None:
    body = payment_body("10.00")
    del body["notification_url"]
    payment = (await shop.client.post("/v1/payments", json=body)).json()
    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": [pin]})
    listed = (await shop.client.get(f"/v1/payments/{payment['id']}/notifications")).json()
    assert listed["data"] == []
