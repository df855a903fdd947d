"""What an operator does for a person's rights (GDPR): find the account, export everything held
about it, erase the personal data.

Erasing removes what identifies the person (sealed fields, the e-mail's keyed hash, the password
hash, logins, confirmation links, login counters keyed by the address); the ledger and the audit
log keep their entries under the pseudonymous psc id, which is no personal datum on its own.
"""

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import wallet
from pinpay.customers.logins import LoginGuard
from pinpay.customers.models import (
    ERASED,
    CustomerAccount,
    CustomerSession,
    EmailVerification,
)
from pinpay.customers.service import (
    AccountNotFound,
    find_by_email,
    find_by_psc_id,
    open_field,
    personal_data,
)
from pinpay.errors import IllegalStateChange
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.money import to_major
from pinpay.merchants.models import Merchant
from pinpay.payments.models import Payment, WalletAssignment


async def resolve(session: AsyncSession, keyring: Keyring, identifier: str) -> CustomerAccount:
    """An account by psc id or by e-mail address."""
    account = (
        await find_by_psc_id(session, identifier)
        if identifier.startswith("psc_")
        else await find_by_email(session, keyring, identifier)
    )
    if account is None:
        raise AccountNotFound()
    return account


def _when(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _major(amount: int, currency: str) -> str:
    return str(to_major(amount, currency))


async def export(
    session: AsyncSession, keyring: Keyring, account: CustomerAccount
) -> dict[str, Any]:
    """Everything PinPay holds about the account, personal data opened."""
    sessions = await session.scalars(
        select(CustomerSession)
        .where(CustomerSession.account_id == account.id)
        .order_by(CustomerSession.id)
    )
    verifications = await session.scalars(
        select(EmailVerification)
        .where(EmailVerification.account_id == account.id)
        .order_by(EmailVerification.id)
    )
    payments = await session.execute(
        select(WalletAssignment, Payment.public_id, Payment.status, Merchant.name)
        .join(Payment, Payment.id == WalletAssignment.payment_id)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .where(WalletAssignment.account_id == account.id)
        .order_by(WalletAssignment.id)
    )
    await audit.record(session, "customer.export", actor="operator", subject=account.psc_id)
    return {
        "psc_id": account.psc_id,
        "status": account.status,
        "created_at": _when(account.created_at),
        "email_verified_at": _when(account.email_verified_at),
        "erased_at": _when(account.erased_at),
        "personal_data": personal_data(keyring, account),
        "password_set": account.password_hash is not None,
        "balances": [
            {
                "currency": b.currency,
                "available": _major(b.available, b.currency),
                "held": _major(b.held, b.currency),
            }
            for b in await wallet.journal_balances(session, account)
        ],
        "history": [
            {
                "at": _when(m.at),
                "kind": m.kind,
                "amount": _major(m.amount, m.currency),
                "currency": m.currency,
                "reference": m.reference,
                "merchant": m.merchant_name,
            }
            for m in await wallet.history(session, account, limit=1_000_000)
        ],
        "payments": [
            {
                "payment_id": public_id,
                "merchant": merchant,
                "amount": _major(held.amount, held.currency),
                "currency": held.currency,
                "funds": held.status,
                "payment_status": status,
                "at": _when(held.created_at),
            }
            for held, public_id, status, merchant in payments
        ],
        "sessions": [
            {
                "created_at": _when(s.created_at),
                "expires_at": _when(s.expires_at),
                "revoked_at": _when(s.revoked_at),
            }
            for s in sessions
        ],
        "email_verifications": [
            {
                "created_at": _when(v.created_at),
                "expires_at": _when(v.expires_at),
                "used_at": _when(v.used_at),
            }
            for v in verifications
        ],
    }


async def erase(
    session: AsyncSession, keyring: Keyring, guard: LoginGuard, account: CustomerAccount
) -> None:
    if account.status == ERASED:
        raise IllegalStateChange("This account is erased already.")
    email = open_field(keyring, account, "email")
    if email is not None:
        await guard.forget(session, email)
    await session.execute(delete(CustomerSession).where(CustomerSession.account_id == account.id))
    await session.execute(
        delete(EmailVerification).where(EmailVerification.account_id == account.id)
    )
    now = clock.now()
    account.email_lookup = None
    account.seal_kid = None
    account.email_sealed = None
    account.first_name_sealed = None
    account.last_name_sealed = None
    account.birth_date_sealed = None
    account.password_hash = None
    account.status = ERASED
    account.erased_at = now
    account.updated_at = now
    await session.flush()
    await audit.record(session, "customer.erase", actor="operator", subject=account.psc_id)
