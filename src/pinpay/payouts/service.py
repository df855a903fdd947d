"""Payouts (API.md 5): a merchant sends value to a customer account's wallet, out of what PinPay
owes it, within its daily limit, to an account whose holder it can name.

The first captured payout binds the merchant's customer id to the account, both ways: later
payouts to that account under another customer id are refused (3197), and so are payouts under
that customer id to another account (3198). `capture: false` validates only and binds nothing.
"""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import service as customers
from pinpay.customers.models import CustomerAccount
from pinpay.errors import (
    CustomerDetailsMismatch,
    DuplicateTransactionId,
    MerchantLimitExceeded,
    PayoutAccountBound,
    PayoutCustomerBound,
    TransferInvalidState,
    TransferNotFound,
)
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import random_alnum
from pinpay.kit.money import to_json_number
from pinpay.merchants import transfers
from pinpay.merchants.models import Merchant
from pinpay.notifications import service as outbox
from pinpay.payments.service import require_active
from pinpay.payouts.models import SUCCESS, VALIDATION_SUCCESSFUL, Payout, PayoutBinding
from pinpay.payouts.validation import NewPayout, Person

EVENT_PAYOUT_SUCCEEDED = "PAYOUT_SUCCEEDED"
_PUBLIC_ID = re.compile(r"^out_[0-9]{10}_[A-Za-z0-9_-]{1,41}_[A-Z]{3}$")


@dataclass(frozen=True)
class DailyLimit:
    currency: str
    limit: int
    paid_out: int
    resets_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.limit - self.paid_out)


def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=moment.tzinfo)


async def daily_limit(session: AsyncSession, merchant: Merchant, currency: str) -> DailyLimit:
    """The merchant's payout limit for `currency` and what its captured payouts used of it
    since midnight UTC."""
    start = _day_start(clock.now())
    end = start + timedelta(days=1)
    paid_out = await session.scalar(
        select(func.coalesce(func.sum(Payout.amount), 0)).where(
            Payout.merchant_id == merchant.id,
            Payout.currency == currency,
            Payout.status == SUCCESS,
            Payout.captured_at >= start,
            Payout.captured_at < end,
        )
    )
    return DailyLimit(currency, merchant.payout_daily_limit_minor, int(paid_out or 0), end)


def _check_person(keyring: Keyring, account: CustomerAccount, person: Person) -> None:
    stored = customers.personal_data(keyring, account)
    if not (
        transfers.same_name(person.first_name, stored["first_name"])
        and transfers.same_name(person.last_name, stored["last_name"])
        and stored["birth_date"] == person.date_of_birth.isoformat()
    ):
        raise CustomerDetailsMismatch()


async def _check_binding(
    session: AsyncSession, merchant: Merchant, customer_id: str, account: CustomerAccount
) -> None:
    bindings = (
        await session.scalars(
            select(PayoutBinding).where(
                PayoutBinding.merchant_id == merchant.id,
                (PayoutBinding.customer_id == customer_id)
                | (PayoutBinding.account_id == account.id),
            )
        )
    ).all()
    for binding in bindings:
        if binding.account_id == account.id and binding.customer_id != customer_id:
            raise PayoutAccountBound(param="customer.id")
        if binding.customer_id == customer_id and binding.account_id != account.id:
            raise PayoutCustomerBound(param="customer.id")


async def _check_limit_and_payable(
    session: AsyncSession, merchant: Merchant, amount: int, currency: str
) -> None:
    limit = await daily_limit(session, merchant, currency)
    if amount > limit.left:
        raise MerchantLimitExceeded(
            f"The merchant may pay out {to_json_number(limit.left, currency)} {currency} "
            "more today.",
            param="amount",
        )
    await transfers.require_payable(session, merchant, amount, currency)


async def create(
    session: AsyncSession,
    keyring: Keyring,
    merchant: Merchant,
    new: NewPayout,
    correlation_id: str | None,
) -> tuple[Payout, CustomerAccount]:
    require_active(merchant)
    with transfers.refusals_audited(
        "payout.create",
        merchant,
        customer_id=new.customer.id,
        details={"amount": new.amount, "currency": new.currency, "capture": new.capture},
    ):
        merchant = await transfers.lock_merchant(session, merchant)
        account = await transfers.find_account(session, keyring, new.customer)
        _check_person(keyring, account, new.person)
        await _check_binding(session, merchant, new.customer.id, account)
        await _check_limit_and_payable(session, merchant, new.amount, new.currency)
        now = clock.now()
        payout = Payout(
            public_id=f"out_{merchant.mid}_{correlation_id or random_alnum(32)}_{new.currency}",
            merchant_id=merchant.id,
            correlation_id=correlation_id,
            amount=new.amount,
            currency=new.currency,
            status=VALIDATION_SUCCESSFUL,
            customer_id=new.customer.id,
            account_id=account.id,
            customer_lookup=new.customer.lookup or transfers.EMAIL,
            comment=new.comment,
            notification_url=new.notification_url,
            created_at=now,
            updated_at=now,
        )
        session.add(payout)
        try:
            await session.flush()
        except IntegrityError:
            raise DuplicateTransactionId(
                "A payout with this Correlation-ID exists already.", param="Correlation-ID"
            ) from None
    await audit.record(
        session,
        "payout.create",
        actor=f"merchant:{merchant.mid}",
        merchant_mid=merchant.mid,
        customer_id=payout.customer_id,
        subject=payout.public_id,
        details={"amount": payout.amount, "currency": payout.currency, "status": payout.status},
    )
    if new.capture:
        await _execute(session, merchant, payout, account)
    return payout, account


async def get(session: AsyncSession, merchant: Merchant, public_id: str) -> Payout:
    """A payout of this merchant; another merchant's is as unknown as a made-up id."""
    payout = None
    if _PUBLIC_ID.match(public_id):
        payout = await session.scalar(
            select(Payout).where(Payout.public_id == public_id, Payout.merchant_id == merchant.id)
        )
    if payout is None:
        raise TransferNotFound("No payout with this id.")
    return payout


async def capture(
    session: AsyncSession, merchant: Merchant, public_id: str
) -> tuple[Payout, CustomerAccount]:
    """A validated payout moves its value now, if the binding, limit and payable still allow."""
    require_active(merchant)
    merchant = await transfers.lock_merchant(session, merchant)
    payout = await get(session, merchant, public_id)
    with transfers.refusals_audited(
        "payout.capture",
        merchant,
        customer_id=payout.customer_id,
        subject=payout.public_id,
        details={"amount": payout.amount, "currency": payout.currency},
    ):
        if payout.status != VALIDATION_SUCCESSFUL:
            raise TransferInvalidState(f"A payout in status {payout.status} cannot be captured.")
        account = await transfers.account_by_id(session, payout.account_id)
        await _check_binding(session, merchant, payout.customer_id, account)
        await _check_limit_and_payable(session, merchant, payout.amount, payout.currency)
    await _execute(session, merchant, payout, account)
    return payout, account


async def _execute(
    session: AsyncSession, merchant: Merchant, payout: Payout, account: CustomerAccount
) -> None:
    """Bind (first payout), move the value from the payable to the wallet, SUCCESS, notify."""
    actor = f"merchant:{merchant.mid}"
    bound = await session.scalar(
        select(PayoutBinding.id).where(
            PayoutBinding.merchant_id == merchant.id,
            PayoutBinding.customer_id == payout.customer_id,
        )
    )
    if bound is None:
        session.add(
            PayoutBinding(
                merchant_id=merchant.id,
                customer_id=payout.customer_id,
                account_id=account.id,
                created_at=clock.now(),
            )
        )
        await audit.record(
            session,
            "payout.bind",
            actor=actor,
            merchant_mid=merchant.mid,
            customer_id=payout.customer_id,
            subject=payout.public_id,
            details={"account": account.psc_id},
        )
    await customers.credit(
        session,
        account,
        payout.amount,
        payout.currency,
        source=transfers.from_payable(merchant, payout.currency, payout.amount),
        kind="payout",
        reference=payout.public_id,
    )
    now = clock.now()
    payout.status, payout.updated_at, payout.captured_at = SUCCESS, now, now
    await session.flush()
    await audit.record(
        session,
        "payout.capture",
        actor=actor,
        merchant_mid=merchant.mid,
        customer_id=payout.customer_id,
        subject=payout.public_id,
        details={"amount": payout.amount, "currency": payout.currency, "to": account.psc_id},
    )
    await outbox.enqueue(
        session,
        merchant_id=merchant.id,
        event_type=EVENT_PAYOUT_SUCCEEDED,
        data={
            "mid": merchant.mid,
            "customer": {"id": payout.customer_id},
            "payout_id": payout.public_id,
            "amount": to_json_number(payout.amount, payout.currency),
            "currency": payout.currency,
            "status": payout.status,
        },
        notification_url=payout.notification_url,
    )


async def psc_id_of(session: AsyncSession, payout: Payout) -> str | None:
    return await session.scalar(
        select(CustomerAccount.psc_id).where(CustomerAccount.id == payout.account_id)
    )
