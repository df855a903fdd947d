"""The hosted payment page over HTTP (the browser journey is in tests/e2e)."""

import re

import httpx
import pytest

from pinpay.runtime import Runtime
from tests.factories import issue_vouchers
from tests.payments.conftest import Shop, payment_body


async def _open_page(shop: Shop, amount: str = "30.00") -> tuple[dict[str, object], str, str]:
    payment = (await shop.client.post("/v1/payments", json=payment_body(amount))).json()
    path = httpx.URL(payment["redirect"]["auth_url"]).path
    page = await shop.client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return payment, path, token.group(1)


async def test_page_shows_payment_and_is_locked_down(shop: Shop) -> None:
    payment, path, _ = await _open_page(shop)
    page = await shop.client.get(path)
    assert "30.00 EUR" in page.text and "Test Shop" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "https://shop.example" in csp  # the redirect back after the form is allowed
    status = (await shop.client.get(f"/v1/payments/{payment['id']}")).json()["status"]
    assert status == "REDIRECTED"


async def test_two_vouchers_partial_then_redirect_to_success(runtime: Runtime, shop: Shop) -> None:
    payment, path, csrf = await _open_page(shop)
    first, second = (await issue_vouchers(runtime, count=2, face_value=2500)).vouchers
    grouped = " ".join(first.pin[i : i + 4] for i in range(0, 16, 4))
    step = await shop.client.post(path, data={"pin": grouped, "csrf": csrf})
    assert step.status_code == 303 and step.headers["location"] == path
    page = await shop.client.get(path)
    assert "5.00 EUR" in page.text  # still missing
    done = await shop.client.post(path, data={"pin": second.pin, "csrf": csrf})
    assert done.status_code == 303
    assert done.headers["location"] == f"https://shop.example/ok?payment_id={payment['id']}"
    body = (await shop.client.get(f"/v1/payments/{payment['id']}")).json()
    assert body["status"] == "AUTHORIZED"
    assert [c["amount"] for c in body["card_details"]] == [25.0, 5.0]


@pytest.mark.parametrize("pin", ["1111222233334444", "12345", ""])
async def test_wrong_pin_gets_the_generic_message(shop: Shop, pin: str) -> None:
    _, path, csrf = await _open_page(shop)
    refused = await shop.client.post(path, data={"pin": pin, "csrf": csrf})
    assert refused.status_code == 400
    assert "This PIN cannot be used. Please check it and try again." in refused.text
    assert pin not in refused.text or not pin


async def test_post_without_csrf_is_refused(shop: Shop) -> None:
    _, path, _ = await _open_page(shop)
    assert (await shop.client.post(path, data={"pin": "1111222233334444"})).status_code == 403


async def test_customer_cancel_goes_to_failure_url(shop: Shop) -> None:
    payment, path, csrf = await _open_page(shop)
    canceled = await shop.client.post(f"{path}/cancel", data={"csrf": csrf})
    assert canceled.status_code == 303
    assert canceled.headers["location"].startswith("https://shop.example/fail")
    body = (await shop.client.get(f"/v1/payments/{payment['id']}")).json()
    assert body["status"] == "CANCELED_CUSTOMER"


async def test_german_by_accept_language_and_switch(shop: Shop) -> None:
    _, path, _ = await _open_page(shop)
    german = await shop.client.get(path, headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert "Bezahlen mit PinPay" in german.text and "30,00 EUR" in german.text
    english = await shop.client.get(path + "?lang=en", headers={"Accept-Language": "de"})
    assert "Pay with PinPay" in english.text


async def test_unknown_page_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/pay/not-a-token")).status_code == 404
