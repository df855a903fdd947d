"""Settling a refund: its value leaves the merchant's payable for the customer's wallet or a new
voucher, the refund becomes SUCCESS, and the merchant is told (REFUND_SUCCEEDED)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import service as customers
from pinpay.customers.models import CustomerAccount
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.money import to_json_number
from pinpay.merchants import transfers
from pinpay.merchants.models import Merchant
from pinpay.notifications import service as outbox
from pinpay.payments.models import CardAssignment, Payment
from pinpay.refunds.models import SUCCESS, VOUCHER, Refund
from pinpay.vouchers import issuance
from pinpay.vouchers.issuance import IssuedVoucher
from pinpay.vouchers.models import Voucher

EVENT_REFUND_SUCCEEDED = "REFUND_SUCCEEDED"


async def _country_of(session: AsyncSession, payment: Payment) -> str | None:
    """A refund voucher is of the country the payment's vouchers were sold in."""
    return await session.scalar(
        select(CardAssignment.country)
        .where(CardAssignment.payment_id == payment.id)
        .order_by(CardAssignment.id)
        .limit(1)
    )


async def settle(
    session: AsyncSession,
    keyring: Keyring,
    merchant: Merchant,
    payment: Payment,
    refund: Refund,
    account: CustomerAccount | None,
) -> IssuedVoucher | None:
    """Move the value out of the merchant's payable; SUCCESS; tell the merchant."""
    actor = f"merchant:{merchant.mid}"
    issued = None
    if refund.destination == VOUCHER:
        batch = await issuance.issue_batch(
            session,
            keyring,
            count=1,
            face_value=refund.amount,
            currency=refund.currency,
            country=await _country_of(session, payment),
            actor=actor,
            funded_by_merchant=merchant.mid,
        )
        issued = batch.vouchers[0]
        refund.voucher_id = await session.scalar(
            select(Voucher.id).where(Voucher.serial == issued.serial)
        )
    else:
        assert account is not None
        await customers.credit(
            session,
            account,
            refund.amount,
            refund.currency,
            source=transfers.from_payable(merchant, refund.currency, refund.amount),
            kind="refund",
            reference=refund.public_id,
        )
    refund.status = SUCCESS
    refund.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        "refund.capture",
        actor=actor,
        merchant_mid=merchant.mid,
        customer_id=refund.customer_id,
        serial=issued.serial if issued else None,
        subject=refund.public_id,
        details={
            "payment": payment.public_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "destination": refund.destination,
            "to": account.psc_id if account else None,
        },
    )
    await outbox.enqueue(
        session,
        merchant_id=merchant.id,
        payment_id=payment.id,
        event_type=EVENT_REFUND_SUCCEEDED,
        data={
            "mid": merchant.mid,
            "customer": {"id": refund.customer_id},
            "payment_id": payment.public_id,
            "refund_id": refund.public_id,
            "amount": to_json_number(refund.amount, refund.currency),
            "currency": refund.currency,
            "status": refund.status,
        },
        notification_url=payment.notification_url,
    )
    return issued
