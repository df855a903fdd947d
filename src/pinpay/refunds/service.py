"""Refunds (API.md 5): a successful payment's value, or part of it, back to the customer's
account wallet or (ext) onto a new voucher, out of what PinPay owes the merchant.

`capture: false` only validates (VALIDATION_SUCCESSFUL) and reserves nothing: capturing checks
everything again, so refunds that were validated side by side can never exceed the payment.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers.models import CustomerAccount
from pinpay.errors import (
    DuplicateTransactionId,
    InvalidRequestParameter,
    PaymentNotFound,
    RefundCustomerMismatch,
    RefundExceedsPayment,
    RefundPaymentInvalidState,
    RefundPeriodExpired,
    TransferInvalidState,
    TransferNotFound,
)
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import random_alnum
from pinpay.kit.money import to_json_number
from pinpay.merchants import transfers
from pinpay.merchants.models import Merchant
from pinpay.payments import service as payments
from pinpay.payments import states
from pinpay.payments.models import Payment
from pinpay.refunds import settle
from pinpay.refunds.models import ACCOUNT, SUCCESS, VALIDATION_SUCCESSFUL, Refund
from pinpay.refunds.validation import NewRefund
from pinpay.vouchers.issuance import IssuedVoucher
from pinpay.vouchers.models import Voucher

REFUND_PERIOD = timedelta(days=45)
_PUBLIC_ID = re.compile(r"^ref_[0-9]{10}_[A-Za-z0-9_-]{1,41}_[A-Z]{3}$")
_PAYMENT_ID = re.compile(r"^pay_[0-9]{10}_[A-Za-z0-9_-]{1,41}_[A-Z]{3}$")


async def _payment(session: AsyncSession, merchant: Merchant, public_id: str) -> Payment:
    """The merchant's payment; an id of another shape is unknown without asking the database
    (PostgreSQL refuses a NUL byte in a text parameter outright)."""
    if not _PAYMENT_ID.match(public_id):
        raise PaymentNotFound()
    return await payments.get(session, merchant, public_id)


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    payment: Payment
    account: CustomerAccount | None
    # The voucher this very call issued: its PIN is in the answer once and nowhere else.
    issued: IssuedVoucher | None = None


async def refunded(session: AsyncSession, payment: Payment) -> int:
    """What the payment has given back so far (validated refunds reserve nothing)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status == SUCCESS
        )
    )
    return int(total or 0)


async def _check_payment(
    session: AsyncSession, payment: Payment, amount: int, currency: str, customer_id: str
) -> None:
    if payment.status != states.SUCCESS:
        raise RefundPaymentInvalidState(f"A payment in status {payment.status} cannot be refunded.")
    if currency != payment.currency:
        raise InvalidRequestParameter("currency must be the payment's currency", param="currency")
    # Counted from when the payment was made; a SUCCESS payment was captured within minutes.
    if clock.now() - payment.created_at > REFUND_PERIOD:
        raise RefundPeriodExpired()
    if customer_id != payment.customer_id:
        raise RefundCustomerMismatch(param="customer.id")
    left = payment.amount - await refunded(session, payment)
    if amount > left:
        raise RefundExceedsPayment(
            f"Only {to_json_number(left, currency)} {currency} of the payment is left to refund.",
            param="amount",
        )


async def create(
    session: AsyncSession,
    keyring: Keyring,
    merchant: Merchant,
    payment_public_id: str,
    new: NewRefund,
    correlation_id: str | None,
) -> RefundResult:
    payments.require_active(merchant)
    if not _PAYMENT_ID.match(payment_public_id):
        raise PaymentNotFound()  # before its audit record, which names the payment
    with transfers.refusals_audited(
        "refund.create",
        merchant,
        customer_id=new.customer.id,
        subject=payment_public_id,
        details={"amount": new.amount, "currency": new.currency, "capture": new.capture},
    ):
        await transfers.lock_merchant(session, merchant)
        payment = await _payment(session, merchant, payment_public_id)
        await _check_payment(session, payment, new.amount, new.currency, new.customer.id)
        account = None
        if new.destination == ACCOUNT:
            account = await transfers.find_account(session, keyring, new.customer)
        await transfers.require_payable(session, merchant, new.amount, new.currency)
        now = clock.now()
        public_id = f"ref_{merchant.mid}_{correlation_id or random_alnum(32)}_{payment.currency}"
        refund = Refund(
            public_id=public_id,
            merchant_id=merchant.id,
            payment_id=payment.id,
            correlation_id=correlation_id,
            amount=new.amount,
            currency=payment.currency,
            status=VALIDATION_SUCCESSFUL,
            customer_id=new.customer.id,
            destination=new.destination,
            account_id=account.id if account else None,
            customer_lookup=new.customer.lookup if account else None,
            comment=new.comment,
            created_at=now,
            updated_at=now,
        )
        session.add(refund)
        try:
            await session.flush()
        except IntegrityError:
            raise DuplicateTransactionId(
                "A refund with this Correlation-ID exists already.", param="Correlation-ID"
            ) from None
    await audit.record(
        session,
        "refund.create",
        actor=f"merchant:{merchant.mid}",
        merchant_mid=merchant.mid,
        customer_id=refund.customer_id,
        subject=refund.public_id,
        details={
            "payment": payment.public_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "destination": refund.destination,
            "status": refund.status,
        },
    )
    issued = (
        await settle.settle(session, keyring, merchant, payment, refund, account)
        if new.capture
        else None
    )
    return RefundResult(refund, payment, account, issued)


async def get(
    session: AsyncSession, merchant: Merchant, payment_public_id: str, refund_public_id: str
) -> tuple[Refund, Payment]:
    """A refund of this merchant's payment; anything else is as unknown as a made-up id."""
    payment = await _payment(session, merchant, payment_public_id)
    refund = None
    if _PUBLIC_ID.match(refund_public_id):
        refund = await session.scalar(
            select(Refund).where(
                Refund.public_id == refund_public_id,
                Refund.payment_id == payment.id,
                Refund.merchant_id == merchant.id,
            )
        )
    if refund is None:
        raise TransferNotFound("No refund with this id for this payment.")
    return refund, payment


async def capture(
    session: AsyncSession,
    keyring: Keyring,
    merchant: Merchant,
    payment_public_id: str,
    refund_public_id: str,
) -> RefundResult:
    """A validated refund moves its value now, if everything still holds."""
    payments.require_active(merchant)
    await transfers.lock_merchant(session, merchant)
    refund, payment = await get(session, merchant, payment_public_id, refund_public_id)
    with transfers.refusals_audited(
        "refund.capture",
        merchant,
        customer_id=refund.customer_id,
        subject=refund.public_id,
        details={"amount": refund.amount, "currency": refund.currency},
    ):
        if refund.status != VALIDATION_SUCCESSFUL:
            raise TransferInvalidState(f"A refund in status {refund.status} cannot be captured.")
        await _check_payment(session, payment, refund.amount, refund.currency, refund.customer_id)
        account = None
        if refund.destination == ACCOUNT:
            assert refund.account_id is not None
            account = await transfers.account_by_id(session, refund.account_id)
        await transfers.require_payable(session, merchant, refund.amount, refund.currency)
    issued = await settle.settle(session, keyring, merchant, payment, refund, account)
    return RefundResult(refund, payment, account, issued)


async def voucher_of(session: AsyncSession, refund: Refund) -> Voucher | None:
    if refund.voucher_id is None:
        return None
    return await session.get(Voucher, refund.voucher_id)


async def psc_id_of(session: AsyncSession, refund: Refund) -> str | None:
    if refund.account_id is None:
        return None
    return await session.scalar(
        select(CustomerAccount.psc_id).where(CustomerAccount.id == refund.account_id)
    )
