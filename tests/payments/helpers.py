"""Plain helpers for the payments API tests: read and adjust rows through real sessions."""

from typing import Any

import httpx
from sqlalchemy import func, select, update

from pinpay.audit.models import AuditRecord
from pinpay.audit.verify import verify_all
from pinpay.ledger import service as ledger
from pinpay.merchants.models import Merchant
from pinpay.models import Base
from pinpay.payments import service as payments
from pinpay.payments.models import CardAssignment, Payment
from pinpay.runtime import Runtime
from pinpay.vouchers.models import Voucher
from tests.api_client import payment_body


async def ledger_problems(runtime: Runtime) -> list[str]:
    """What `pinpay audit verify` finds, plus each merchant's payable against its captures."""
    async with runtime.transaction() as session:
        problems = list((await verify_all(session, runtime.keyring)).problems)
        captured = (
            await session.execute(
                select(Merchant.mid, CardAssignment.currency, func.sum(CardAssignment.amount))
                .join(Payment, Payment.id == CardAssignment.payment_id)
                .join(Merchant, Merchant.id == Payment.merchant_id)
                .where(CardAssignment.status == "CAPTURED")
                .group_by(Merchant.mid, CardAssignment.currency)
            )
        ).all()
        for mid, currency, total in captured:
            payable = await ledger.balance(session, ledger.MERCHANT, mid, currency)
            if payable != total:
                problems.append(f"merchant {mid} {currency}: payable {payable}, captured {total}")
    return problems


async def voucher_by_serial(runtime: Runtime, serial: str) -> Voucher:
    async with runtime.transaction() as session:
        found = await session.scalar(select(Voucher).where(Voucher.serial == serial))
    assert found is not None, serial
    return found


async def update_merchant(runtime: Runtime, mid: str, **values: Any) -> None:
    """Operator-side settings with no API yet (status, limits, flags): set in the row."""
    async with runtime.transaction() as session:
        await session.execute(update(Merchant).where(Merchant.mid == mid).values(**values))


async def count(runtime: Runtime, model: type[Base]) -> int:
    async with runtime.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def rejections(runtime: Runtime, action: str | None = None) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.outcome == "rejected")
    if action is not None:
        query = query.where(AuditRecord.action == action)
    async with runtime.transaction() as session:
        return list(await session.scalars(query.order_by(AuditRecord.id)))


async def merchant_payable(runtime: Runtime, mid: str, currency: str = "EUR") -> int:
    async with runtime.transaction() as session:
        return await ledger.balance(session, ledger.MERCHANT, mid, currency)


async def new_payment(client: httpx.AsyncClient, amount: str = "10.00", **body: Any) -> str:
    response = await client.post("/v1/payments", json=payment_body(amount, **body))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def assign(
    client: httpx.AsyncClient, payment_id: str, *pins: str, status: int = 200
) -> dict[str, Any]:
    response = await client.post(f"/v1/payments/{payment_id}/cards", json={"pins": list(pins)})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def status_of(client: httpx.AsyncClient, payment_id: str) -> str:
    response = await client.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def by_customer(runtime: Runtime, payment_id: str, event: str) -> None:
    """What the hosted page does (open it, or cancel on it), through the real services."""
    async with runtime.transaction() as session:
        payment = await session.scalar(select(Payment).where(Payment.public_id == payment_id))
        assert payment is not None
        mid = payment_id.split("_")[1]
        if event == "cancel":
            await payments.cancel(session, payment, mid, by_customer=True)
        else:
            await payments.change_status(session, payment, event, mid, actor="customer")
