import httpx

from pinpay.runtime import Runtime
from tests.factories import issue_vouchers
from tests.payments.conftest import Shop, payment_body


async def test_create_assign_capture(runtime: Runtime, shop: Shop) -> None:
    created = await shop.client.post("/v1/payments", json=payment_body("30.00"))
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "INITIATED"
    assert payment["id"].startswith(f"pay_{shop.mid}_") and payment["id"].endswith("_EUR")
    assert payment["redirect"]["success_url"].endswith(payment["id"])
    pins = [v.pin for v in (await issue_vouchers(runtime, count=2, face_value=2500)).vouchers]
    first = await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": pins[:1]})
    assert first.status_code == 200, first.text
    assert first.json()["amount_missing"] == 5.0
    second = await shop.client.post(f"/v1/payments/{payment['id']}/cards", json={"pins": pins[1:]})
    assert second.json()["status"] == "AUTHORIZED"
    assert [c["amount"] for c in second.json()["card_details"]] == [25.0, 5.0]
    captured = await shop.client.post(f"/v1/payments/{payment['id']}/capture", json={})
    assert captured.status_code == 200 and captured.json()["status"] == "SUCCESS"
    again = await shop.client.post(f"/v1/payments/{payment['id']}/capture")
    assert again.status_code == 400 and again.json()["number"] == 2017


async def test_wrong_key_is_10008(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/payments", json=payment_body(), headers={"Authorization": "Basic Zm9vOg=="}
    )
    assert response.status_code == 401
    assert response.json()["number"] == 10008


async def test_every_refused_call_is_audited(runtime: Runtime, shop: Shop) -> None:
    from sqlalchemy import select

    from pinpay.audit.models import AuditRecord

    bad = await shop.client.post("/v1/payments", json=payment_body("10.001"))
    assert bad.status_code == 400
    missing = await shop.client.post("/v1/payments/pay_nope/capture")
    assert missing.status_code == 404
    async with runtime.transaction() as session:
        rows = (
            await session.scalars(select(AuditRecord).where(AuditRecord.outcome == "rejected"))
        ).all()
    seen = {(r.action, r.reason, r.merchant_mid, r.subject) for r in rows}
    assert ("api.post /v1/payments", "invalid_request_parameter", shop.mid, None) in seen
    assert (
        "api.post /v1/payments/{payment_id}/capture",
        "payment_not_found",
        shop.mid,
        "pay_nope",
    ) in seen


async def test_an_unprintable_payment_id_is_unknown_not_an_error(shop: Shop) -> None:
    response = await shop.client.get("/v1/payments/pay_%00x")
    assert (response.status_code, response.json()["number"]) == (404, 2002)
