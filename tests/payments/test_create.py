"""POST /v1/payments: every validation error of API.md (code, number, param), the loose forms
real Paysafecard clients send, Correlation-ID, an inactive merchant, and authentication."""

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pinpay.app import create_app
from pinpay.merchants import service as merchants
from pinpay.notifications.models import OutboxEvent
from pinpay.payments.models import Payment
from pinpay.runtime import Runtime
from tests.api_client import Shop, basic, payment_body
from tests.factories import create_merchant
from tests.payments.helpers import count, update_merchant

Body = dict[str, Any]
OK = "redirect.success_url"
CODES = {
    10028: "invalid_request_parameter",
    2029: "invalid_amount",
    4003: "amount_limit_exceeded",
    2010: "currency_not_supported",
    3017: "customer_id_missing",
    3019: "invalid_customer_id",
}


def _drop(key: str) -> Callable[[Body], None]:
    return lambda body: body.pop(key)


def _set(path: str, value: object) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        *parents, last = path.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        target[last] = value

    return change


INVALID: list[tuple[str, Callable[[Body], None], int, str]] = [
    ("type missing", _drop("type"), 10028, "type"),
    ("type wrong", _set("type", "CREDITCARD"), 10028, "type"),
    ("type not a string", _set("type", 7), 10028, "type"),
    ("amount missing", _drop("amount"), 10028, "amount"),
    ("amount empty", _set("amount", ""), 10028, "amount"),
    ("amount abc", _set("amount", "abc"), 10028, "amount"),
    ("amount 3 decimals", _set("amount", "10.001"), 10028, "amount"),
    ("amount number 3 decimals", _set("amount", 10.001), 10028, "amount"),
    ("amount boolean", _set("amount", True), 10028, "amount"),
    ("amount object", _set("amount", {"value": 10}), 10028, "amount"),
    ("amount NaN", _set("amount", "NaN"), 10028, "amount"),
    ("amount zero", _set("amount", 0), 2029, "amount"),
    ("amount zero string", _set("amount", "0.00"), 2029, "amount"),
    ("amount negative", _set("amount", -5), 2029, "amount"),
    ("amount negative cent", _set("amount", "-0.01"), 2029, "amount"),
    ("amount over max", _set("amount", "1000.01"), 4003, "amount"),
    ("amount far over max", _set("amount", 25000), 4003, "amount"),
    ("currency missing", _drop("currency"), 10028, "currency"),
    ("currency not ISO", _set("currency", "EURO"), 10028, "currency"),
    ("currency not enabled", _set("currency", "USD"), 2010, "currency"),
    ("currency unknown", _set("currency", "XXX"), 2010, "currency"),
    ("customer missing", _drop("customer"), 3017, "customer.id"),
    ("customer empty", _set("customer", {}), 3017, "customer.id"),
    ("customer.id empty", _set("customer.id", ""), 3017, "customer.id"),
    ("customer.id blank", _set("customer.id", "   "), 3017, "customer.id"),
    ("customer.id e-mail", _set("customer.id", "jane.doe@example.com"), 3019, "customer.id"),
    ("customer.id encoded e-mail", _set("customer.id", "jane%40example.com"), 3019, "customer.id"),
    ("customer.id IPv4", _set("customer.id", "192.168.10.20"), 3019, "customer.id"),
    ("customer.id IPv6", _set("customer.id", "2001:db8::1"), 3019, "customer.id"),
    ("customer.ip not an IP", _set("customer.ip", "localhost"), 10028, "customer.ip"),
    ("redirect missing", _drop("redirect"), 10028, OK),
    ("success_url missing", _set("redirect", {"failure_url": "https://a.example/"}), 10028, OK),
    ("success_url no scheme", _set("redirect.success_url", "shop.example/ok"), 10028, OK),
    ("success_url javascript", _set("redirect.success_url", "javascript:alert(1)"), 10028, OK),
    ("success_url ftp", _set("redirect.success_url", "ftp://shop.example/ok"), 10028, OK),
    ("success_url number", _set("redirect.success_url", 42), 10028, OK),
    ("failure_url bad", _set("redirect.failure_url", "not a url"), 10028, "redirect.failure_url"),
    ("notification_url bad", _set("notification_url", "mailto:x"), 10028, "notification_url"),
    ("submerchant_id 9 chars", _set("submerchant_id", "123456789"), 10028, "submerchant_id"),
    ("submerchant_id not alnum", _set("submerchant_id", "ab-cd"), 10028, "submerchant_id"),
]


@pytest.mark.parametrize(
    ("mutate", "number", "param"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
async def test_invalid_create_is_refused_and_changes_nothing(
    runtime: Runtime, shop: Shop, mutate: Callable[[Body], None], number: int, param: str
) -> None:
    body = payment_body()
    mutate(body)
    response = await shop.client.post("/v1/payments", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert (error["code"], error["number"], error["param"]) == (CODES[number], number, param)
    assert set(error) == {"code", "message", "number", "param"} and error["message"]
    assert await count(runtime, Payment) == 0
    assert await count(runtime, OutboxEvent) == 0


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (10, 10.0),
        (10.5, 10.5),
        ("10", 10.0),
        ("10.00", 10.0),
        (" 7.25 ", 7.25),
        (0.01, 0.01),
        ("1000.00", 1000.0),
    ],
)
async def test_amount_in_every_loose_form(shop: Shop, amount: object, expected: float) -> None:
    response = await shop.client.post("/v1/payments", json=payment_body(amount))
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == expected


async def test_created_payment_object(runtime: Runtime, shop: Shop) -> None:
    before = int(time.time() * 1000)
    response = await shop.client.post(
        "/v1/payments",
        json=payment_body(
            "12.34", submerchant_id="sub1", customer={"id": "cust-77", "ip": "203.0.113.9"}
        ),
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    pid = payment["id"]
    assert pid.startswith(f"pay_{shop.mid}_") and pid.endswith("_EUR")
    assert len(pid.split("_")[2]) == 32 and pid.split("_")[2].isalnum()
    assert payment["object"] == "PAYMENT" and payment["type"] == "PAYSAFECARD"
    assert (payment["amount"], payment["status"]) == (12.34, "INITIATED")
    assert before - 1000 <= payment["created"] == payment["updated"] <= time.time() * 1000 + 1000
    assert payment["customer"] == {"id": "cust-77", "ip": "203.0.113.9"}
    assert payment["submerchant_id"] == "sub1"
    assert payment["redirect"]["auth_url"].startswith(runtime.settings.public_base_url + "/pay/")
    assert pid not in payment["redirect"]["auth_url"]
    assert "card_details" not in payment and None not in payment.values()
    fetched = await shop.client.get(f"/v1/payments/{pid}")
    assert fetched.status_code == 200 and fetched.json() == payment


async def test_placeholder_replaced_in_every_url(shop: Shop) -> None:
    body = payment_body(
        redirect={
            "success_url": "https://shop.example/{payment_id}/ok?again={payment_id}",
            "failure_url": "https://shop.example/fail/{payment_id}",
        }
    )
    payment = (await shop.client.post("/v1/payments", json=body)).json()
    pid = payment["id"]
    assert payment["redirect"]["success_url"] == f"https://shop.example/{pid}/ok?again={pid}"
    assert payment["redirect"]["failure_url"] == f"https://shop.example/fail/{pid}"
    assert payment["notification_url"] == f"https://shop.example/notify?payment_id={pid}"


async def test_empty_optional_fields_and_unknown_keys_are_accepted(shop: Shop) -> None:
    body = payment_body(
        shop_id="",
        submerchant_id="",
        notification_url="",
        capture="true",
        unknown_top=[1, 2],
        customer={
            "id": "cust-1",
            "ip": "",
            "min_age": "",
            "kyc_level": "",
            "extra": {"x": 1},
            "country_restriction": "",
        },
        redirect={
            "success_url": "https://a.example/ok",
            "failure_url": "https://a.example/no",
            "auth_url": "https://evil.example/",
            "color": "red",
        },
    )
    response = await shop.client.post("/v1/payments", json=body)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["customer"] == {"id": "cust-1"}
    assert not {"shop_id", "submerchant_id", "notification_url"} & set(payment)
    assert not payment["redirect"]["auth_url"].startswith("https://evil.example")


async def test_content_type_with_charset(shop: Shop) -> None:
    response = await shop.client.post(
        "/v1/payments",
        content=json.dumps(payment_body()).encode(),
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 201, response.text


async def test_correlation_id(runtime: Runtime, shop: Shop) -> None:
    headers = {"Correlation-ID": "order-42_A"}
    first = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == f"pay_{shop.mid}_order-42_A_EUR"
    again = await shop.client.post("/v1/payments", json=payment_body("5.00"), headers=headers)
    assert again.status_code == 400
    assert (again.json()["code"], again.json()["number"]) == ("duplicate_transaction_id", 2001)
    other = await create_merchant(runtime, "Other")
    theirs = await shop.client.post(
        "/v1/payments", json=payment_body(), headers={**headers, **basic(other.api_key)}
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"].startswith(f"pay_{other.merchant.mid}_")
    assert await count(runtime, Payment) == 2


@pytest.mark.parametrize("correlation", ["has space", "x" * 42, "semi;colon"])
async def test_bad_correlation_id(runtime: Runtime, shop: Shop, correlation: str) -> None:
    response = await shop.client.post(
        "/v1/payments", json=payment_body(), headers={"Correlation-ID": correlation}
    )
    assert response.status_code == 400
    assert (response.json()["number"], response.json()["param"]) == (10028, "Correlation-ID")
    assert await count(runtime, Payment) == 0


async def test_inactive_merchant_is_3001(runtime: Runtime, shop: Shop) -> None:
    await update_merchant(runtime, shop.mid, status="INACTIVE")
    response = await shop.client.post("/v1/payments", json=payment_body())
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["number"]) == ("merchant_not_active", 3001)
    assert await count(runtime, Payment) == 0


async def test_maximum_per_payment_is_a_merchant_setting(runtime: Runtime, shop: Shop) -> None:
    await update_merchant(runtime, shop.mid, max_payment_minor=5000)
    assert (await shop.client.post("/v1/payments", json=payment_body("50.00"))).status_code == 201
    over = await shop.client.post("/v1/payments", json=payment_body("50.01"))
    assert (over.status_code, over.json()["number"], over.json()["param"]) == (400, 4003, "amount")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"pinpay_wrong").decode(),
        "Basic !!!not-base64",
        "Bearer pinpay_something",
        "Basic ",
        "Basic " + base64.b64encode(b":").decode(),
    ],
)
async def test_missing_or_wrong_key_is_10008(
    runtime: Runtime, api: httpx.AsyncClient, authorization: str | None
) -> None:
    await create_merchant(runtime)
    headers = {"Authorization": authorization} if authorization else {}
    response = await api.post("/v1/payments", json=payment_body(), headers=headers)
    assert response.status_code == 401
    assert (response.json()["code"], response.json()["number"]) == ("invalid_api_key", 10008)
    get = await api.get("/v1/payments", headers=headers)
    assert get.status_code == 401 and get.json()["number"] == 10008
    assert await count(runtime, Payment) == 0


@pytest.mark.parametrize("suffix", ["", ":"])
async def test_basic_auth_with_and_without_colon(
    runtime: Runtime, api: httpx.AsyncClient, suffix: str
) -> None:
    created = await create_merchant(runtime)
    token = base64.b64encode((created.api_key + suffix).encode()).decode()
    response = await api.post(
        "/v1/payments", json=payment_body(), headers={"Authorization": f"Basic {token}"}
    )
    assert response.status_code == 201, response.text


async def test_ip_allow_list(runtime: Runtime, api: httpx.AsyncClient) -> None:
    async with runtime.transaction() as session:
        created = await merchants.create_merchant(
            session, runtime.keyring, name="Fenced", allow_ips=["10.0.0.0/8"]
        )
    headers = basic(created.api_key)
    refused = await api.post("/v1/payments", json=payment_body(), headers=headers)  # 127.0.0.1
    assert refused.status_code == 403 and refused.json()["code"] == "ip_not_allowed"
    assert await count(runtime, Payment) == 0
    transport = httpx.ASGITransport(
        app=create_app(runtime.settings, runtime), client=("10.1.2.3", 1234)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://pinpay.test") as inside:
        allowed = await inside.post("/v1/payments", json=payment_body(), headers=headers)
        assert allowed.status_code == 201, allowed.text
        wrong_key = await inside.post(
            "/v1/payments", json=payment_body(), headers=basic("pinpay_not_a_key")
        )
        assert wrong_key.status_code == 401
