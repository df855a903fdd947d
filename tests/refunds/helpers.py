"""Plain helpers for the refund and payout tests: accounts, paid payments, the money's state."""

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select

from pinpay.audit.models import AuditRecord
from pinpay.audit.verify import verify_all
from pinpay.customers import service as customers
from pinpay.customers.models import CustomerAccount, WalletBalance
from pinpay.kit.money import to_minor
from pinpay.ledger import service as ledger
from pinpay.merchants.models import Merchant
from pinpay.models import Base
from pinpay.notifications.models import OutboxEvent
from pinpay.payments.models import CardAssignment, Payment
from pinpay.payouts.models import Payout
from pinpay.refunds.models import Refund
from pinpay.runtime import Runtime
from tests.factories import issue_vouchers
from tests.payments.helpers import assign, new_payment

CUSTOMER = "cust-0001"  # the customer id of tests.api_client.payment_body


@dataclass(frozen=True)
class Account:
    psc_id: str
    email: str
    first_name: str
    last_name: str
    birth_date: str

    def payout_customer(self, customer_id: str = CUSTOMER, **overrides: Any) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": customer_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "date_of_birth": self.birth_date,
        }
        customer.update(overrides)
        return customer


async def open_account(
    runtime: Runtime,
    email: str = "alice@example.org",
    first_name: str = "Alice",
    last_name: str = "Smith",
    birth_date: str = "1990-01-31",
) -> Account:
    person = customers.PersonalData(email, first_name, last_name, date.fromisoformat(birth_date))
    async with runtime.transaction() as session:
        account = await customers.open_account(session, runtime.keyring, person)
    return Account(account.psc_id, email, first_name, last_name, birth_date)


async def paid_payment(
    runtime: Runtime,
    client: httpx.AsyncClient,
    amount: str = "10.00",
    customer_id: str = CUSTOMER,
    currency: str = "EUR",
) -> str:
    """A payment brought to SUCCESS with one voucher of exactly its amount."""
    voucher = await issue_vouchers(
        runtime, face_value=to_minor(amount, currency), currency=currency
    )
    payment_id = await new_payment(client, amount, customer={"id": customer_id}, currency=currency)
    await assign(client, payment_id, voucher.vouchers[0].pin)
    captured = await client.post(f"/v1/payments/{payment_id}/capture")
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "SUCCESS"
    return payment_id


def refund_body(
    amount: object = "4.00",
    *,
    capture: object = True,
    customer_id: str = CUSTOMER,
    email: str | None = None,
    psc_id: str | None = None,
    **extra: object,
) -> dict[str, Any]:
    customer: dict[str, Any] = {"id": customer_id}
    if email is not None:
        customer["email"] = email
    if psc_id is not None:
        customer["psc_id"] = psc_id
    body: dict[str, Any] = {
        "type": "PAYSAFECARD",
        "amount": amount,
        "currency": "EUR",
        "capture": capture,
        "customer": customer,
    }
    body.update(extra)
    return body


async def refund(
    client: httpx.AsyncClient,
    payment_id: str,
    body: dict[str, Any],
    status: int = 201,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(f"/v1/payments/{payment_id}/refunds", json=body, headers=headers)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def error_of(answer: dict[str, Any]) -> tuple[str, int | None]:
    return answer["code"], answer.get("number")


async def wallet(runtime: Runtime, psc_id: str, currency: str = "EUR") -> int:
    async with runtime.transaction() as session:
        balance = await session.scalar(
            select(WalletBalance.balance)
            .join(CustomerAccount, CustomerAccount.id == WalletBalance.account_id)
            .where(CustomerAccount.psc_id == psc_id, WalletBalance.currency == currency)
        )
    return int(balance or 0)


async def payable(runtime: Runtime, mid: str, currency: str = "EUR") -> int:
    async with runtime.transaction() as session:
        return await ledger.balance(session, ledger.MERCHANT, mid, currency)


async def money_problems(runtime: Runtime) -> list[str]:
    """What `pinpay audit verify` finds, plus each merchant's payable against what its captures
    brought in and its refunds and payouts took out."""
    async with runtime.transaction() as session:
        problems = list((await verify_all(session, runtime.keyring)).problems)
        expected: dict[tuple[str, str], int] = {}
        captured = select(Merchant.mid, CardAssignment.currency, func.sum(CardAssignment.amount))
        captured = (
            captured.join(Payment, Payment.id == CardAssignment.payment_id)
            .join(Merchant, Merchant.id == Payment.merchant_id)
            .where(CardAssignment.status == "CAPTURED")
            .group_by(Merchant.mid, CardAssignment.currency)
        )
        for mid, currency, total in (await session.execute(captured)).all():
            expected[(mid, currency)] = expected.get((mid, currency), 0) + int(total)
        for model in (Refund, Payout):
            paid = (
                select(Merchant.mid, model.currency, func.sum(model.amount))
                .join(Merchant, Merchant.id == model.merchant_id)
                .where(model.status == "SUCCESS")
                .group_by(Merchant.mid, model.currency)
            )
            for mid, currency, total in (await session.execute(paid)).all():
                expected[(mid, currency)] = expected.get((mid, currency), 0) - int(total)
        for (mid, currency), total in expected.items():
            owed = await ledger.balance(session, ledger.MERCHANT, mid, currency)
            if owed != total:
                problems.append(f"merchant {mid} {currency}: payable {owed}, expected {total}")
    return problems


async def events(runtime: Runtime, event_type: str) -> list[OutboxEvent]:
    async with runtime.transaction() as session:
        return list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.event_type == event_type)
                .order_by(OutboxEvent.id)
            )
        )


async def audit_records(
    runtime: Runtime, action: str, outcome: str | None = None
) -> list[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.action == action)
    if outcome is not None:
        query = query.where(AuditRecord.outcome == outcome)
    async with runtime.transaction() as session:
        return list(await session.scalars(query.order_by(AuditRecord.id)))


async def stored_text(runtime: Runtime) -> str:
    """Every value of every row of every table, as one text (binaries decoded loosely)."""
    parts: list[str] = []
    async with runtime.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        parts.append(bytes(value).decode("latin-1"))
                    elif isinstance(value, (dict, list)):
                        parts.append(json.dumps(value))
                    elif value is not None:
                        parts.append(str(value))
    return "\n".join(parts)
