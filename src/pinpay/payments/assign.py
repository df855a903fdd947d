"""Assigning PINs to a payment: the hot path, shared by the hosted page and the direct API.

All or none: every PIN of a request holds value in one transaction or nothing is held. A single
PIN (the common case) is one conditional UPDATE by its keyed hash; several are first resolved
to voucher ids in one query, then held in primary-key order so that two payments sharing
vouchers cannot deadlock.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.deferred_writes import defer_insert, defer_update
from pinpay.errors import InvalidRequestParameter, PaymentInvalidState, PinNotAccepted
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import normalize_pin
from pinpay.merchants.models import Merchant
from pinpay.payments import service, states
from pinpay.payments.models import CardAssignment, Payment
from pinpay.vouchers import service as vouchers
from pinpay.vouchers import signing
from pinpay.vouchers.models import Voucher

MAX_PINS = 10


@dataclass(frozen=True)
class Assigned:
    payment: Payment
    cards: list[CardAssignment]


def parse_pins(raw: list[object]) -> list[str]:
    if not raw:
        raise InvalidRequestParameter("pins must list 1 to 10 PINs", param="pins")
    if len(raw) > MAX_PINS:
        raise InvalidRequestParameter("at most 10 PINs per payment", param="pins")
    pins = []
    for value in raw:
        pin = normalize_pin(value) if isinstance(value, str) else None
        if pin is None:
            raise PinNotAccepted()
        pins.append(pin)
    if len(set(pins)) != len(pins):
        raise InvalidRequestParameter("the same PIN was given twice", param="pins")
    return pins


async def _voucher_ids_in_key_order(
    session: AsyncSession, keyring: Keyring, pins: list[str]
) -> list[tuple[str, int | None]]:
    digest_to_pin = {d: pin for pin in pins for d in keyring.pin_lookup_candidates(pin)}
    rows = await session.execute(
        select(Voucher.pin_lookup, Voucher.id).where(Voucher.pin_lookup.in_(digest_to_pin))
    )
    ids = {digest_to_pin[digest]: voucher_id for digest, voucher_id in rows}
    # Unknown PINs (no id) go first: they fail before any voucher is touched.
    return sorted(((pin, ids.get(pin)) for pin in pins), key=lambda p: (p[1] is not None, p[1]))


def require_assignable(payment: Payment, merchant: Merchant, actor: str) -> int:
    """What is still missing on `payment`, if it may take value now (PINs or a wallet)."""
    if payment.status not in states.OPEN:
        states.next_status(payment.status, "authorize")  # 2017
    if payment.expires_at <= clock.now():
        # The 30 minutes ran out before the worker noticed: refuse, and expire the payment now
        # in a transaction of its own (as a late capture does), releasing any partial holds.
        raise PaymentInvalidState(
            "The payment expired before it was authorized.",
            after_rollback=[
                service.expire_follow_up(payment.id, merchant.mid),
                audit.rejection(
                    "payment.authorize",
                    actor=actor,
                    merchant_mid=merchant.mid,
                    subject=payment.public_id,
                    reason="authorization_expired",
                ),
            ],
        )
    missing = payment.amount - payment.assigned
    if missing <= 0:
        raise InvalidRequestParameter("the payment is covered already", param="pins")
    return missing


async def assign_pins(
    session: AsyncSession,
    keyring: Keyring,
    payment: Payment,
    merchant: Merchant,
    pins: list[str],
    *,
    actor: str,
) -> Assigned:
    """Hold value from `pins` towards `payment` (locked by the caller). Authorizes it once the
    PINs cover the amount; a voucher worth more than needed keeps the rest."""
    missing = require_assignable(payment, merchant, actor)
    targets: list[tuple[str, int | None]] = (
        [(pins[0], None)]
        if len(pins) == 1
        else await _voucher_ids_in_key_order(session, keyring, pins)
    )
    now = clock.now()
    new_cards = []
    for pin, voucher_id in targets:
        if missing <= 0:
            # Covered before the last PIN: the rest stay untouched, but each must still be one
            # that could pay, or the request is refused like any other bad PIN (API.md 4).
            surplus = await session.get(Voucher, voucher_id)
            if surplus is None or _refusal(keyring, surplus, payment.currency):
                refused = vouchers.refused_follow_up(
                    keyring, None, voucher_id, payment.currency, 1, actor, payment.public_id
                )
                raise PinNotAccepted(after_rollback=[refused])
            continue
        if len(pins) > 1 and voucher_id is None:
            raise PinNotAccepted(
                after_rollback=[
                    vouchers.refused_follow_up(
                        keyring, pin, None, payment.currency, missing, actor, payment.public_id
                    )
                ]
            )
        hold = await vouchers.hold(
            session,
            keyring,
            amount=missing,
            currency=payment.currency,
            reference=payment.public_id,
            pin=pin if voucher_id is None else None,
            voucher_id=voucher_id,
            partial=True,
            actor=actor,
        )
        missing -= hold.amount
        new_cards.append(
            {
                "payment_id": payment.id,
                "voucher_id": hold.voucher_id,
                "serial": hold.serial,
                "amount": hold.amount,
                "currency": hold.currency,
                "country": hold.country,
                "type_code": hold.type_code,
                "status": service.HELD,
                "created_at": now,
            }
        )
    first_value = payment.assigned == 0
    for card in new_cards:
        defer_insert(session, CardAssignment, **card)
    defer_update(session, payment, assigned=payment.amount - missing, updated_at=now)
    # The hot path (one PIN paying it all) knows every card already: no need to read them back.
    cards = (
        [CardAssignment(**card) for card in new_cards]
        if first_value
        else (await service.cards_of(session, [payment]))[payment.id]
    )
    if missing == 0:
        await service.mark_authorized(session, payment, merchant, cards, actor)
    return Assigned(payment, cards)


def _refusal(keyring: Keyring, voucher: Voucher, currency: str | None = None) -> str | None:
    """Why `voucher` could not pay now (for the audit log only), or None if it could."""
    if voucher.status != "ACTIVE":
        return f"status_{voucher.status.lower()}"
    if voucher.expires_at <= clock.now():
        return "expired"
    if currency is not None and voucher.currency != currency:
        return "currency_mismatch"
    if voucher.remaining <= 0:
        return "insufficient_value"
    if not signing.is_genuine(keyring, voucher):
        return "signature_mismatch"
    return None


async def check_voucher(
    session: AsyncSession,
    keyring: Keyring,
    pin_text: object,
    *,
    merchant_mid: str | None = None,
) -> Voucher:
    """The direct API's balance check: the voucher if it could pay now, else the generic refusal
    (audited like every refusal, with its real cause)."""
    pin = normalize_pin(pin_text) if isinstance(pin_text, str) else None
    voucher = await vouchers.find_by_pin(session, keyring, pin) if pin else None
    reason = _refusal(keyring, voucher) if voucher else "unknown_pin" if pin else "malformed_pin"
    if voucher is None or reason is not None:
        raise PinNotAccepted(
            after_rollback=[
                audit.rejection(
                    "voucher.check",
                    actor=f"merchant:{merchant_mid}" if merchant_mid else "system",
                    merchant_mid=merchant_mid,
                    serial=voucher.serial if voucher else None,
                    reason=reason,
                )
            ]
        )
    return voucher
