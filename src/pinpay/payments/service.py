"""The payment life cycle: create, read, list, capture, cancel, expire (API.md section 2).

Status changes go through `states.next_status`; each one writes its audit record and, where a
merchant is told, its outbox event in the same transaction. Held value (of vouchers, and of a
wallet that paid) follows the payment: captured to the merchant on SUCCESS, released on cancel
and expiry.
"""

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.customers import wallet
from pinpay.customers.models import CustomerAccount
from pinpay.db import dialect_name
from pinpay.deferred_writes import defer_update
from pinpay.errors import (
    AfterRollback,
    DispositionExpired,
    DuplicateTransactionId,
    InvalidRequestParameter,
    MerchantInactive,
    PaymentInvalidState,
    PaymentNotFound,
)
from pinpay.kit import clock
from pinpay.kit.ids import random_alnum
from pinpay.kit.money import to_json_number
from pinpay.merchants.models import Merchant
from pinpay.notifications import service as outbox
from pinpay.payments import states
from pinpay.payments.models import CardAssignment, Payment, WalletAssignment
from pinpay.payments.validation import NewPayment
from pinpay.vouchers import service as vouchers

AUTHORIZATION_WINDOW = timedelta(minutes=30)
HELD, CAPTURED, RELEASED = "HELD", "CAPTURED", "RELEASED"
MAX_PAGE = 100


def require_active(merchant: Merchant) -> None:
    if merchant.status != "ACTIVE":
        raise MerchantInactive()


async def create(
    session: AsyncSession,
    merchant: Merchant,
    new: NewPayment,
    correlation_id: str | None,
    *,
    authorization_window: timedelta = AUTHORIZATION_WINDOW,
) -> Payment:
    require_active(merchant)
    now = clock.now()
    public_id = f"pay_{merchant.mid}_{correlation_id or random_alnum(32)}_{new.currency}"
    payment = Payment(
        public_id=public_id,
        merchant_id=merchant.id,
        correlation_id=correlation_id,
        page_token=secrets.token_urlsafe(32),
        type="PAYSAFECARD",
        amount=new.amount,
        assigned=0,
        currency=new.currency,
        status=states.INITIATED,
        success_url=new.success_url.replace("{payment_id}", public_id),
        failure_url=new.failure_url.replace("{payment_id}", public_id),
        notification_url=(
            new.notification_url.replace("{payment_id}", public_id)
            if new.notification_url
            else None
        ),
        customer_id=new.customer_id,
        customer_ip=new.customer_ip,
        min_age=new.min_age,
        kyc_level=new.kyc_level,
        country_restriction=new.country_restriction,
        submerchant_id=new.submerchant_id,
        shop_id=new.shop_id,
        created_at=now,
        updated_at=now,
        expires_at=now + authorization_window,
    )
    session.add(payment)
    try:
        await session.flush()
    except IntegrityError:
        # Only the (merchant, correlation id) pair can collide: 32 random characters do not.
        raise DuplicateTransactionId(param="Correlation-ID") from None
    await audit.record(
        session,
        "payment.create",
        actor=f"merchant:{merchant.mid}",
        merchant_mid=merchant.mid,
        customer_id=new.customer_id,
        subject=public_id,
        details={"amount": new.amount, "currency": new.currency},
    )
    return payment


# Built once: every call on a payment runs one of them.
_PAYMENT = select(Payment).where(
    Payment.public_id == bindparam("public_id"), Payment.merchant_id == bindparam("merchant_id")
)
_PAYMENT_LOCKED = _PAYMENT.with_for_update()


async def get(
    session: AsyncSession, merchant: Merchant, public_id: str, *, lock: bool = False
) -> Payment:
    """A payment of this merchant; another merchant's is as unknown as a made-up id (2002)."""
    if not public_id.isprintable() or len(public_id) > 80:
        raise PaymentNotFound()  # PostgreSQL refuses NUL in text: never let it reach the query
    query = _PAYMENT_LOCKED if lock else _PAYMENT
    payment = await session.scalar(query, {"public_id": public_id, "merchant_id": merchant.id})
    if payment is None:
        raise PaymentNotFound()
    return payment


async def cards_of(
    session: AsyncSession,
    payments: Sequence[Payment],
) -> dict[int, list[CardAssignment]]:
    """Every payment's card assignments in one query (never one per payment)."""
    by_payment: dict[int, list[CardAssignment]] = defaultdict(list)
    if payments:
        rows = await session.scalars(
            select(CardAssignment)
            .where(CardAssignment.payment_id.in_([p.id for p in payments]))
            .order_by(CardAssignment.id)
        )
        for card in rows:
            by_payment[card.payment_id].append(card)
    return by_payment


@dataclass(frozen=True)
class ListFilter:
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 20
    starting_after: str | None = None


async def list_payments(
    session: AsyncSession,
    merchant: Merchant,
    filters: ListFilter,
) -> tuple[list[Payment], bool]:
    """Newest first, cursor-paginated by the last id of the previous page."""
    if not 1 <= filters.limit <= MAX_PAGE:
        raise InvalidRequestParameter(f"limit must be 1 to {MAX_PAGE}", param="limit")
    if filters.status is not None and filters.status not in states.STATUSES:
        raise InvalidRequestParameter("unknown status", param="status")
    query = select(Payment).where(Payment.merchant_id == merchant.id)
    if filters.status:
        query = query.where(Payment.status == filters.status)
    if filters.created_from:
        query = query.where(Payment.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Payment.created_at <= filters.created_to)
    if filters.starting_after:
        cursor = await get(session, merchant, filters.starting_after)
        query = query.where(Payment.id < cursor.id)
    rows = list(await session.scalars(query.order_by(Payment.id.desc()).limit(filters.limit + 1)))
    return rows[: filters.limit], len(rows) > filters.limit


def _notification_data(
    payment: Payment, merchant_mid: str, cards: list[CardAssignment]
) -> dict[str, object]:
    return {
        "mid": merchant_mid,
        "customer": {"id": payment.customer_id},
        "payment_id": payment.public_id,
        "status": payment.status,
        "card_details": [
            {
                "serial": c.serial,
                "currency": c.currency,
                "amount": to_json_number(c.amount, c.currency),
                "type": c.type_code,
                "country": c.country,
            }
            for c in cards
            if c.status != RELEASED
        ],
    }


async def change_status(
    session: AsyncSession,
    payment: Payment,
    event: str,
    merchant_mid: str,
    *,
    actor: str,
    cards: list[CardAssignment] | None = None,
) -> None:
    """Apply `event` (raises 2017 if illegal), record it and tell the merchant."""
    before = payment.status
    after = states.next_status(before, event)
    changes: dict[str, object] = {"status": after, "updated_at": clock.now()}
    if after == states.EXPIRED:
        changes["status_before_expiration"] = before
    defer_update(session, payment, **changes)
    await audit.record(
        session,
        f"payment.{event}",
        actor=actor,
        merchant_mid=merchant_mid,
        customer_id=payment.customer_id,
        subject=payment.public_id,
        details={"from": before, "to": payment.status},
    )
    event_type = states.EVENT_TYPES.get(payment.status)
    if event_type:
        if cards is None:
            cards = (await cards_of(session, [payment]))[payment.id]
        await outbox.enqueue(
            session,
            merchant_id=payment.merchant_id,
            payment_id=payment.id,
            event_type=event_type,
            data=_notification_data(payment, merchant_mid, cards),
            notification_url=payment.notification_url,
        )


async def _settle_holds(
    session: AsyncSession, payment: Payment, merchant_mid: str, *, capture: bool, actor: str
) -> list[CardAssignment]:
    cards = (await cards_of(session, [payment]))[payment.id]
    held_on_cards = sum(c.amount for c in cards if c.status == HELD)
    # Vouchers are touched in primary-key order, so two settlements never wait on each other.
    for card in sorted((c for c in cards if c.status == HELD), key=lambda c: c.voucher_id):
        if capture:
            await vouchers.capture(
                session,
                card.voucher_id,
                card.amount,
                merchant_mid=merchant_mid,
                reference=payment.public_id,
                actor=actor,
            )
            defer_update(session, card, status=CAPTURED)
        else:
            await vouchers.release(
                session, card.voucher_id, card.amount, reference=payment.public_id, actor=actor
            )
            defer_update(session, card, status=RELEASED)
    # Value held beyond the vouchers' came from a customer's wallet (it always pays the rest in
    # one go); PIN-only payments, the hot path, skip the query.
    if held_on_cards < payment.assigned:
        await _settle_wallet_holds(session, payment, merchant_mid, capture=capture, actor=actor)
    return cards


async def _settle_wallet_holds(
    session: AsyncSession, payment: Payment, merchant_mid: str, *, capture: bool, actor: str
) -> None:
    held = await session.execute(
        select(WalletAssignment, CustomerAccount)
        .join(CustomerAccount, CustomerAccount.id == WalletAssignment.account_id)
        .where(WalletAssignment.payment_id == payment.id, WalletAssignment.status == HELD)
        .order_by(WalletAssignment.account_id)
    )
    for assignment, account in held:
        if capture:
            await wallet.capture_held(
                session,
                account.psc_id,
                assignment.amount,
                assignment.currency,
                merchant_mid=merchant_mid,
                reference=payment.public_id,
                actor=actor,
            )
            assignment.status = CAPTURED
        else:
            await wallet.release_held(
                session,
                account,
                assignment.amount,
                assignment.currency,
                reference=payment.public_id,
                actor=actor,
            )
            assignment.status = RELEASED


def expire_follow_up(payment_id: int, merchant_mid: str) -> AfterRollback:
    async def write(session: AsyncSession) -> None:
        await expire_one(session, payment_id, merchant_mid)

    return write


class Settled(NamedTuple):
    """A payment after capture or cancel, with its cards as they now stand."""

    payment: Payment
    cards: list[CardAssignment]


async def capture(session: AsyncSession, merchant: Merchant, public_id: str) -> Settled:
    require_active(merchant)
    payment = await get(session, merchant, public_id, lock=True)
    actor = f"merchant:{merchant.mid}"
    if payment.status == states.AUTHORIZED and payment.expires_at <= clock.now():
        # The window closed before the worker noticed: the capture fails and the payment
        # expires now, in a transaction of its own, so its hold goes back at once.
        raise DispositionExpired(
            after_rollback=[
                expire_follow_up(payment.id, merchant.mid),
                audit.rejection(
                    "payment.capture",
                    actor=actor,
                    merchant_mid=merchant.mid,
                    subject=public_id,
                    reason="disposition_expired",
                ),
            ]
        )
    if payment.status != states.AUTHORIZED:
        states.next_status(payment.status, "capture")  # raises 2017 with the reason
    cards = await _settle_holds(session, payment, merchant.mid, capture=True, actor=actor)
    await change_status(session, payment, "capture", merchant.mid, actor=actor, cards=cards)
    return Settled(payment, cards)


async def cancel(
    session: AsyncSession, payment: Payment, merchant_mid: str, *, by_customer: bool
) -> Settled:
    event = "cancel_customer" if by_customer else "cancel_merchant"
    states.next_status(payment.status, event)  # refuse before touching any voucher
    actor = "customer" if by_customer else f"merchant:{merchant_mid}"
    if payment.expires_at <= clock.now():
        # Its time ran out before the worker noticed: it has expired (API.md 2), whoever asks
        # now, as for a late capture or PIN; it expires in a transaction of its own.
        raise PaymentInvalidState(
            "The payment expired before it was canceled.",
            after_rollback=[
                expire_follow_up(payment.id, merchant_mid),
                audit.rejection(
                    "payment.cancel",
                    actor=actor,
                    merchant_mid=merchant_mid,
                    subject=payment.public_id,
                    reason="expired",
                ),
            ],
        )
    cards = await _settle_holds(session, payment, merchant_mid, capture=False, actor=actor)
    await change_status(session, payment, event, merchant_mid, actor=actor, cards=cards)
    return Settled(payment, cards)


async def expire_one(session: AsyncSession, payment_id: int, merchant_mid: str) -> bool:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    if payment is None or payment.status in states.FINAL or payment.expires_at > clock.now():
        return False
    cards = await _settle_holds(session, payment, merchant_mid, capture=False, actor="worker")
    await change_status(session, payment, "expire", merchant_mid, actor="worker", cards=cards)
    return True


async def expire_due(session: AsyncSession, limit: int = 100) -> int:
    """Worker duty: expire open payments past their deadline; safe in many workers at once."""
    # The statuses as literals, exactly as the partial index ix_payment_open_deadline names
    # them: bound parameters could be anything, so neither planner could use that index.
    unfinished = [literal(status, literal_execute=True) for status in states.UNFINISHED]
    query = (
        select(Payment.id, Merchant.mid)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .where(Payment.status.in_(unfinished), Payment.expires_at <= clock.now())
        .order_by(Payment.expires_at)
        .limit(limit)
    )
    if dialect_name(session) == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Payment)
    expired = 0
    for payment_id, mid in (await session.execute(query)).all():
        expired += await expire_one(session, payment_id, mid)
    return expired


async def mark_authorized(
    session: AsyncSession,
    payment: Payment,
    merchant: Merchant,
    cards: list[CardAssignment],
    actor: str,
) -> None:
    """Covered: start the disposition window and tell the merchant (ASSIGN_CARDS)."""
    expires_at = clock.now() + timedelta(seconds=merchant.disposition_seconds)
    defer_update(session, payment, expires_at=expires_at)
    await change_status(session, payment, "authorize", merchant.mid, actor=actor, cards=cards)


async def by_page_token(
    session: AsyncSession,
    page_token: str,
    *,
    lock: bool = False,
) -> tuple[Payment, Merchant] | None:
    """The payment behind a hosted page address, with its merchant; None for a made-up one."""
    query = (
        select(Payment, Merchant)
        .join(Merchant, Merchant.id == Payment.merchant_id)
        .where(Payment.page_token == page_token)
    )
    if lock:
        query = query.with_for_update(of=Payment)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def customer_opened(session: AsyncSession, payment: Payment, merchant: Merchant) -> None:
    """The customer reached the page: INITIATED becomes REDIRECTED; a lapsed one expires now."""
    if payment.status in states.OPEN and payment.expires_at <= clock.now():
        await expire_one(session, payment.id, merchant.mid)
    elif payment.status == states.INITIATED:
        await change_status(session, payment, "redirect", merchant.mid, actor="customer")
