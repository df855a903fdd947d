"""Why wallet value moves: a voucher loaded, a payment paid and then captured or given back; and
the wallet's balances and history as the journal tells them (lines of `wallet:<psc_id>`).

Every move is one journal entry plus, where the value is the wallet's own, the balance column
updated in the same transaction (`service.credit` / `service.debit`).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers.models import ACTIVE, CustomerAccount
from pinpay.customers.service import (
    WALLET,
    WALLET_HELD,
    AccountNotActive,
    add_to_balance,
    credit,
    debit,
)
from pinpay.kit.crypto import Keyring
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.merchants.models import Merchant
from pinpay.payments.models import Payment
from pinpay.vouchers import service as vouchers

HISTORY_LIMIT = 50


def require_active(account: CustomerAccount) -> None:
    if account.status != ACTIVE:
        raise AccountNotActive()


async def load_voucher(
    session: AsyncSession,
    keyring: Keyring,
    account: CustomerAccount,
    pin: str,
    *,
    actor: str = "customer",
) -> vouchers.Taken:
    """All the value left on the voucher with `pin` moves into the wallet, in its currency."""
    require_active(account)
    taken = await vouchers.take_remaining(
        session,
        keyring,
        pin=pin,
        to_account=(WALLET, account.psc_id),
        reference=account.psc_id,
        actor=actor,
    )
    await add_to_balance(session, account, taken.amount, taken.currency)
    await audit.record(
        session,
        "wallet.load",
        actor=actor,
        serial=taken.serial,
        subject=account.psc_id,
        details={"amount": taken.amount, "currency": taken.currency},
    )
    return taken


async def hold_for_payment(
    session: AsyncSession,
    account: CustomerAccount,
    amount: int,
    currency: str,
    *,
    reference: str,
    actor: str = "customer",
) -> None:
    """Wallet value set aside for an authorized payment (refused if the balance is short)."""
    require_active(account)
    await debit(
        session,
        account,
        amount,
        currency,
        destination=ledger.Line(WALLET_HELD, account.psc_id, currency, amount),
        kind="wallet_hold",
        reference=reference,
    )
    await audit.record(
        session,
        "wallet.hold",
        actor=actor,
        subject=reference,
        customer_id=account.psc_id,
        details={"amount": amount, "currency": currency},
    )


async def capture_held(
    session: AsyncSession,
    psc_id: str,
    amount: int,
    currency: str,
    *,
    merchant_mid: str,
    reference: str,
    actor: str,
) -> None:
    """Held wallet value becomes the merchant's (the payment was captured)."""
    await ledger.post(
        session,
        "wallet_capture",
        [
            ledger.Line(WALLET_HELD, psc_id, currency, -amount),
            ledger.Line(ledger.MERCHANT, merchant_mid, currency, amount),
        ],
        reference=reference,
    )
    await audit.record(
        session,
        "wallet.capture",
        actor=actor,
        merchant_mid=merchant_mid,
        subject=reference,
        customer_id=psc_id,
        details={"amount": amount, "currency": currency},
    )


async def release_held(
    session: AsyncSession,
    account: CustomerAccount,
    amount: int,
    currency: str,
    *,
    reference: str,
    actor: str,
) -> None:
    """Held wallet value goes back to the wallet (cancel, expiry). Works for any status: an
    account locked or erased meanwhile still gets its own value back."""
    await credit(
        session,
        account,
        amount,
        currency,
        source=ledger.Line(WALLET_HELD, account.psc_id, currency, -amount),
        kind="wallet_release",
        reference=reference,
    )
    await audit.record(
        session,
        "wallet.release",
        actor=actor,
        subject=reference,
        customer_id=account.psc_id,
        details={"amount": amount, "currency": currency},
    )


@dataclass(frozen=True)
class Balance:
    currency: str
    available: int
    held: int


async def journal_balances(session: AsyncSession, account: CustomerAccount) -> list[Balance]:
    """Available and held value per currency, summed from the journal (one indexed query)."""
    rows = await session.execute(
        select(JournalLine.account_kind, JournalLine.currency, func.sum(JournalLine.amount))
        .where(
            ledger.kind_is(WALLET, WALLET_HELD),
            JournalLine.account_ref == account.psc_id,
        )
        .group_by(JournalLine.account_kind, JournalLine.currency)
    )
    totals: dict[str, dict[str, int]] = {}
    for kind, currency, total in rows:
        totals.setdefault(currency, {WALLET: 0, WALLET_HELD: 0})[kind] = int(total)
    return [
        Balance(currency, amounts[WALLET], amounts[WALLET_HELD])
        for currency, amounts in sorted(totals.items())
    ]


@dataclass(frozen=True)
class Movement:
    at: datetime
    kind: str  # the journal entry's kind: wallet_load ("voucher_take"), wallet_hold, ...
    currency: str
    amount: int  # signed: what the wallet gained or gave
    reference: str | None  # "serial:<serial>" or a payment id
    merchant_name: str | None  # for payments


async def history(
    session: AsyncSession, account: CustomerAccount, limit: int = HISTORY_LIMIT
) -> list[Movement]:
    """The wallet's journal lines, newest first, with the merchant of each payment."""
    rows = await session.execute(
        select(
            JournalEntry.created_at,
            JournalEntry.kind,
            JournalLine.currency,
            JournalLine.amount,
            JournalEntry.reference,
            Merchant.name,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .outerjoin(Payment, Payment.public_id == JournalEntry.reference)
        .outerjoin(Merchant, Merchant.id == Payment.merchant_id)
        .where(ledger.kind_is(WALLET), JournalLine.account_ref == account.psc_id)
        .order_by(JournalLine.id.desc())
        .limit(limit)
    )
    return [
        Movement(at, kind, currency, int(amount), reference, merchant)
        for at, kind, currency, amount, reference, merchant in rows
    ]
