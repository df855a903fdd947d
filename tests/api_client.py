"""A merchant API client over the real ASGI app, and a merchant to drive it (fixtures for all)."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from pinpay.app import create_app
from pinpay.runtime import Runtime
from tests.factories import create_merchant


@dataclass
class Shop:
    mid: str
    api_key: str
    client: httpx.AsyncClient


def basic(api_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}


def payment_body(amount: object = "10.00", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "PAYSAFECARD",
        "amount": amount,
        "currency": "EUR",
        "redirect": {
            "success_url": "https://shop.example/ok?payment_id={payment_id}",
            "failure_url": "https://shop.example/fail?payment_id={payment_id}",
        },
        "notification_url": "https://shop.example/notify?payment_id={payment_id}",
        "customer": {"id": "cust-0001"},
    }
    body.update(overrides)
    return body


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pinpay.test") as client:
        yield client


@pytest.fixture
async def shop(runtime: Runtime, api: httpx.AsyncClient) -> Shop:
    created = await create_merchant(runtime)
    api.headers.update(basic(created.api_key))
    return Shop(created.merchant.mid, created.api_key, api)
