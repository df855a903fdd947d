"""The application as the life-cycle machine drives it: the merchant API and the hosted page over
the real ASGI app in-process, the worker's duties, and the issuer's few operator-side steps."""

import re
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, text

from pinpay.app import create_app
from pinpay.config import Settings
from pinpay.kit.crypto import Keyring
from pinpay.models import Base
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher
from pinpay.worker import service as worker
from tests.api_client import basic, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.payments.helpers import update_merchant
from tests.refunds.helpers import open_account

BASE_URL = "http://pinpay.test"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def major(minor: int) -> str:
    """Minor units as the API's amount text (Paysafecard clients send "10.00")."""
    return f"{minor // 100}.{minor % 100:02d}"


def minor(amount: float) -> int:
    return round(amount * 100)


def csrf_of(page: httpx.Response) -> str | None:
    """The form's CSRF token: present only while the page still takes PINs."""
    found = _CSRF.search(page.text)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Issued:
    serial: str
    pin: str
    key: int


@dataclass
class Driver:
    runtime: Runtime
    merchant: httpx.AsyncClient  # carries the merchant's API key
    customer: httpx.AsyncClient  # a browser: no key, a cookie jar of its own (the device)
    mid: str
    psc_id: str  # the customer account that refunds go to

    @classmethod
    async def start(cls, settings: Settings, keyring: Keyring) -> "Driver":
        runtime = Runtime.build(settings, keyring)
        if runtime.engine.dialect.name == "postgresql":
            # The test's PostgreSQL database is shared by every run: each starts empty.
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with runtime.engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        shop = await create_merchant(runtime)
        merchant = httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=basic(shop.api_key)
        )
        customer = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        account = await open_account(runtime)
        return cls(runtime, merchant, customer, shop.merchant.mid, account.psc_id)

    async def close(self) -> None:
        await self.merchant.aclose()
        await self.customer.aclose()
        await self.runtime.close()

    # --- the issuer and the operator ---------------------------------------------------------

    async def set_disposition(self, seconds: int) -> None:
        await update_merchant(self.runtime, self.mid, disposition_seconds=seconds)

    async def issue(self, face: int, currency: str = "EUR") -> Issued:
        voucher = (await issue_vouchers(self.runtime, face_value=face, currency=currency)).vouchers
        return Issued(voucher[0].serial, voucher[0].pin, await self.key_of(voucher[0].serial))

    async def key_of(self, serial: str) -> int:
        async with self.runtime.transaction() as session:
            key = await session.scalar(select(Voucher.id).where(Voucher.serial == serial))
        assert key is not None, serial
        return key

    async def run_worker(self) -> int:
        """The worker's round without notification delivery (that is a third party's side):
        expiry, then sealing the audit records so that `audit verify` walks a real chain."""
        expired = await worker.expire_payments(self.runtime)
        await worker.seal_audit_records(self.runtime)
        return expired

    # --- the merchant API ----------------------------------------------------------------------

    async def create(self, amount: int, customer: str) -> httpx.Response:
        body = payment_body(major(amount), customer={"id": customer})
        return await self.merchant.post("/v1/payments", json=body)

    async def get(self, payment_id: str) -> dict[str, Any]:
        response = await self.merchant.get(f"/v1/payments/{payment_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def assign(self, payment_id: str, pins: list[str]) -> httpx.Response:
        return await self.merchant.post(f"/v1/payments/{payment_id}/cards", json={"pins": pins})

    async def capture(self, payment_id: str) -> httpx.Response:
        return await self.merchant.post(f"/v1/payments/{payment_id}/capture")

    async def cancel(self, payment_id: str) -> httpx.Response:
        return await self.merchant.post(f"/v1/payments/{payment_id}/cancel")

    async def refund(
        self, payment_id: str, amount: int, customer: str, *, to_voucher: bool, capture: bool
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "type": "PAYSAFECARD",
            "amount": major(amount),
            "currency": "EUR",
            "capture": capture,
            "customer": {"id": customer} if to_voucher else {"id": customer, "psc_id": self.psc_id},
        }
        if to_voucher:
            body["destination"] = "voucher"
        return await self.merchant.post(f"/v1/payments/{payment_id}/refunds", json=body)

    async def capture_refund(self, payment_id: str, refund_id: str) -> httpx.Response:
        return await self.merchant.post(f"/v1/payments/{payment_id}/refunds/{refund_id}/capture")

    # --- the hosted page (API.md 3) --------------------------------------------------------------

    async def open_page(self, page: str) -> httpx.Response:
        return await self.customer.get(page)

    async def page_pin(self, page: str, csrf: str, pin: str) -> httpx.Response:
        return await self.customer.post(page, data={"pin": pin, "csrf": csrf})

    async def page_cancel(self, page: str, csrf: str) -> httpx.Response:
        return await self.customer.post(f"{page}/cancel", data={"csrf": csrf})
