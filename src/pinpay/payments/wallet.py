"""Paying from a customer's wallet instead of with PINs (the hosted page's other way to pay).

The wallet pays everything still missing in one go. That value is held (ledger account
`wallet_held:<psc_id>`, one payment_wallet row beside the payment's card rows) and the payment is
AUTHORIZED exactly as when PINs cover it; capture, cancel and expiry then settle the wallet's
part together with the vouchers' (`service._settle_holds`).
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import wallet
from pinpay.customers.models import CustomerAccount
from pinpay.customers.service import InsufficientWalletBalance, open_field
from pinpay.deferred_writes import defer_update
from pinpay.errors import PinPayError
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.merchants.models import Merchant
from pinpay.payments import assign, service
from pinpay.payments.models import Payment, WalletAssignment


class MinimumAgeNotMet(PinPayError):
    code = "minimum_age_not_met"
    number = None
    http_status = 400
    default_message = "The account holder is younger than this payment allows."


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


async def pay_with_wallet(
    session: AsyncSession,
    keyring: Keyring,
    payment: Payment,
    merchant: Merchant,
    account: CustomerAccount,
    *,
    actor: str = "customer",
) -> Payment:
    """Hold the missing amount from `account` and authorize `payment` (locked by the caller)."""
    missing = assign.require_assignable(payment, merchant, actor)
    refused = {
        "actor": actor,
        "merchant_mid": merchant.mid,
        "subject": payment.public_id,
        "customer_id": account.psc_id,
    }
    if payment.min_age is not None:
        # A voucher cannot tell who holds it; an account can, so the merchant's minimum age
        # (customer.min_age) is enforced here.
        born = open_field(keyring, account, "birth_date")
        if born is None or age_on(date.fromisoformat(born), clock.now().date()) < payment.min_age:
            raise MinimumAgeNotMet(
                after_rollback=[audit.rejection("wallet.hold", reason="min_age", **refused)]
            )
    try:
        await wallet.hold_for_payment(
            session, account, missing, payment.currency, reference=payment.public_id, actor=actor
        )
    except InsufficientWalletBalance as short:
        short.after_rollback.append(
            audit.rejection("wallet.hold", reason="insufficient_balance", **refused)
        )
        raise
    now = clock.now()
    session.add(
        WalletAssignment(
            payment_id=payment.id,
            account_id=account.id,
            amount=missing,
            currency=payment.currency,
            status=service.HELD,
            created_at=now,
        )
    )
    defer_update(session, payment, assigned=payment.amount, updated_at=now)
    cards = (await service.cards_of(session, [payment]))[payment.id]
    await service.mark_authorized(session, payment, merchant, cards, actor)
    return payment
