"""Finding, holding, capturing and releasing voucher value; freezing, unfreezing and voiding.

Every change of value is one conditional UPDATE checked by what it returns, in the caller's
transaction together with its journal entry and audit record (DESIGN.md, correctness rules).
"""

from dataclasses import dataclass
from functools import cache
from typing import cast

from sqlalchemy import BigInteger, Table, Update, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay import fastsql
from pinpay.audit import service as audit
from pinpay.db import UTCDateTime
from pinpay.errors import (
    AfterRollback,
    IllegalStateChange,
    PinNotAccepted,
    VoucherNotFound,
    VoucherTampered,
)
from pinpay.fastsql import Row
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.ledger import service as ledger
from pinpay.vouchers import signing
from pinpay.vouchers.models import ACTIVE, DEPLETED, FROZEN, VOID, Voucher


@dataclass(frozen=True)
class Hold:
    voucher_id: int
    serial: str
    currency: str
    country: str | None
    type_code: str
    amount: int
    remaining_after: int


async def find_by_pin(session: AsyncSession, keyring: Keyring, pin: str) -> Voucher | None:
    """The keyed hash under every pepper is the only way from a PIN to a voucher."""
    return await session.scalar(
        select(Voucher).where(Voucher.pin_lookup.in_(keyring.pin_lookup_candidates(pin)))
    )


async def get_by_serial(session: AsyncSession, serial: str, *, lock: bool = False) -> Voucher:
    query = select(Voucher).where(Voucher.serial == serial)
    voucher = await session.scalar(query.with_for_update() if lock else query)
    if voucher is None:
        raise VoucherNotFound()
    return voucher


async def _why_refused(
    session: AsyncSession,
    keyring: Keyring,
    pin: str | None,
    voucher_id: int | None,
    currency: str | None,
    amount: int,
) -> tuple[str | None, str]:
    """For the audit log only: the customer always gets the same generic message."""
    voucher = (
        await find_by_pin(session, keyring, pin)
        if pin is not None
        else await session.get(Voucher, voucher_id)
    )
    if voucher is None:
        return None, "unknown_pin"
    if voucher.status != ACTIVE:
        return voucher.serial, f"status_{voucher.status.lower()}"
    if voucher.expires_at <= clock.now():
        return voucher.serial, "expired"
    if currency is not None and voucher.currency != currency:
        return voucher.serial, "currency_mismatch"
    if voucher.remaining < amount:
        return voucher.serial, "insufficient_value"
    return voucher.serial, "refused"


def refused_follow_up(
    keyring: Keyring,
    pin: str | None,
    voucher_id: int | None,
    currency: str | None,
    amount: int,
    actor: str,
    reference: str,
) -> AfterRollback:
    async def write(session: AsyncSession) -> None:
        serial, reason = await _why_refused(session, keyring, pin, voucher_id, currency, amount)
        await audit.record(
            session,
            "voucher.hold",
            outcome=audit.REJECTED,
            actor=actor,
            reason=reason,
            serial=serial,
            subject=reference,
            details={"amount": amount, "currency": currency},
        )

    return write


def _tampered_follow_up(voucher_id: int, serial: str, actor: str, reference: str) -> AfterRollback:
    async def write(session: AsyncSession) -> None:
        await session.execute(
            update(Voucher)
            .where(Voucher.id == voucher_id, Voucher.status == ACTIVE)
            .values(status=FROZEN, updated_at=clock.now())
        )
        await audit.record(
            session,
            "voucher.tamper_detected",
            outcome=audit.REJECTED,
            actor=actor,
            reason="signature_mismatch",
            serial=serial,
            subject=reference,
            details={"action": "frozen"},
        )

    return write


# The table, not the mapped class: an ORM UPDATE would sync the session's objects in Python.
_VOUCHERS = cast(Table, Voucher.__table__)


@cache
def _hold_statement(*, lookups: int, partial: bool) -> Update:
    """The hold's conditional UPDATE, built once per form (`lookups` candidate PIN hashes, or 0
    for a voucher id): the hot path pays no construction. It returns columns, not an ORM
    object, so that it can take the short way to PostgreSQL (pinpay.fastsql)."""
    amount = bindparam("p_amount", type_=BigInteger())
    now = bindparam("p_now", type_=UTCDateTime())
    # SET expressions all see the row as it was, so `taken` is min(remaining before, amount).
    taken = case((Voucher.remaining < amount, Voucher.remaining), else_=amount)
    found = (
        Voucher.pin_lookup.in_([bindparam(f"p_lookup{n}") for n in range(lookups)])
        if lookups
        else Voucher.id == bindparam("p_id")
    )
    return (
        update(_VOUCHERS)
        .where(
            found,
            Voucher.status == ACTIVE,
            Voucher.currency == bindparam("p_currency"),
            Voucher.expires_at > now,
            Voucher.remaining > 0 if partial else Voucher.remaining >= amount,
        )
        .values(
            remaining=Voucher.remaining - taken,
            held=Voucher.held + taken,
            last_movement=taken,
            updated_at=now,
        )
        .returning(*_VOUCHERS.c)
    )


async def hold(
    session: AsyncSession,
    keyring: Keyring,
    *,
    amount: int,
    currency: str,
    reference: str,
    pin: str | None = None,
    voucher_id: int | None = None,
    partial: bool = False,
    actor: str = "system",
) -> Hold:
    """Move value of one voucher (found by `pin` or `voucher_id`) from spendable to held.

    Exactly `amount`, or with `partial` as much as it has up to `amount`. One round trip: the
    UPDATE only matches an active, unexpired voucher of the currency with enough value, and the
    row it returns is then checked against its signature. Any refusal raises PinNotAccepted, the
    same error for every cause, with the real cause left for the audit log.
    """
    if (pin is None) == (voucher_id is None):
        raise ValueError("hold() takes a pin or a voucher_id")
    if amount <= 0:
        raise PinNotAccepted(
            after_rollback=[
                refused_follow_up(keyring, pin, voucher_id, currency, amount, actor, reference)
            ]
        )
    now = clock.now()
    lookups = keyring.pin_lookup_candidates(pin) if pin is not None else []
    params = {"p_amount": amount, "p_currency": currency, "p_now": now, "p_id": voucher_id}
    params.update((f"p_lookup{n}", digest) for n, digest in enumerate(lookups))
    statement = _hold_statement(lookups=len(lookups), partial=partial)
    row = await fastsql.fetch_one(session, statement, params)
    if row is None:
        raise PinNotAccepted(
            after_rollback=[
                refused_follow_up(keyring, pin, voucher_id, currency, amount, actor, reference)
            ]
        )
    if not signing.is_genuine(keyring, row):
        raise VoucherTampered(
            after_rollback=[_tampered_follow_up(row.id, row.serial, actor, reference)]
        )
    moved = row.last_movement
    await ledger.post(
        session,
        "voucher_hold",
        [
            ledger.Line(ledger.VOUCHER, row.serial, currency, -moved),
            ledger.Line(ledger.VOUCHER_HELD, row.serial, currency, moved),
        ],
        reference=reference,
        at=now,
    )
    await audit.record(
        session,
        "voucher.hold",
        actor=actor,
        serial=row.serial,
        subject=reference,
        details={"amount": moved, "currency": currency},
    )
    return Hold(row.id, row.serial, row.currency, row.country, row.type_code, moved, row.remaining)


@dataclass(frozen=True)
class Taken:
    voucher_id: int
    serial: str
    currency: str
    amount: int


async def take_remaining(
    session: AsyncSession,
    keyring: Keyring,
    *,
    pin: str,
    to_account: tuple[str, str],
    reference: str,
    actor: str = "system",
) -> Taken:
    """Move all the spendable value of the voucher with `pin` to the ledger account
    `to_account` (kind, ref), e.g. a customer's wallet. The journal entry's reference is the
    serial (as for a void); `reference` names the receiver in the audit log.

    Like `hold`: one conditional UPDATE (active, unexpired, value left) checked by the row it
    returns and by the row's signature, the same PinNotAccepted for every refusal. Value held
    for an open payment stays held; a voucher left with nothing is DEPLETED at once.
    """
    now = clock.now()
    row = (
        await session.execute(
            update(Voucher)
            .where(
                Voucher.pin_lookup.in_(keyring.pin_lookup_candidates(pin)),
                Voucher.status == ACTIVE,
                Voucher.expires_at > now,
                Voucher.remaining > 0,
            )
            .values(
                # SET expressions see the row as it was: last_movement is what was taken.
                remaining=0,
                last_movement=Voucher.remaining,
                status=case((Voucher.held == 0, DEPLETED), else_=Voucher.status),
                updated_at=now,
            )
            .returning(Voucher)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise PinNotAccepted(
            after_rollback=[refused_follow_up(keyring, pin, None, None, 1, actor, reference)]
        )
    if not signing.is_genuine(keyring, row):
        raise VoucherTampered(
            after_rollback=[_tampered_follow_up(row.id, row.serial, actor, reference)]
        )
    kind, ref = to_account
    moved = row.last_movement
    await ledger.post(
        session,
        "voucher_take",
        [
            ledger.Line(ledger.VOUCHER, row.serial, row.currency, -moved),
            ledger.Line(kind, ref, row.currency, moved),
        ],
        reference=f"serial:{row.serial}",
        at=now,
    )
    await audit.record(
        session,
        "voucher.take",
        actor=actor,
        serial=row.serial,
        subject=reference,
        details={"amount": moved, "currency": row.currency, "to": kind},
    )
    return Taken(row.id, row.serial, row.currency, moved)


@cache
def _move_held_statement(*, back: bool) -> Update:
    """Held value released (`back`) or captured, built once each: the hot path's capture."""
    amount = bindparam("p_amount", type_=BigInteger())
    values: dict[str, object] = {
        "held": Voucher.held - amount,
        "updated_at": bindparam("p_now", type_=UTCDateTime()),
    }
    if back:
        values["remaining"] = Voucher.remaining + amount
    else:
        # Captured down to nothing: the voucher is used up, in the same statement.
        values["status"] = case(
            (
                (Voucher.remaining == 0) & (Voucher.held == amount) & (Voucher.status == ACTIVE),
                DEPLETED,
            ),
            else_=Voucher.status,
        )
    return (
        update(_VOUCHERS)
        .where(Voucher.id == bindparam("p_id"), Voucher.held >= amount)
        .values(**values)
        .returning(*_VOUCHERS.c)
    )


async def _move_held(session: AsyncSession, voucher_id: int, amount: int, *, back: bool) -> Row:
    params = {"p_id": voucher_id, "p_amount": amount, "p_now": clock.now()}
    row = await fastsql.fetch_one(session, _move_held_statement(back=back), params)
    if row is None:
        raise IllegalStateChange("The voucher does not hold that value.")
    return row


async def capture(
    session: AsyncSession,
    voucher_id: int,
    amount: int,
    *,
    merchant_mid: str,
    reference: str,
    actor: str = "system",
) -> None:
    """Held value becomes the merchant's; a voucher with nothing left is DEPLETED."""
    row = await _move_held(session, voucher_id, amount, back=False)
    await ledger.post(
        session,
        "voucher_capture",
        [
            ledger.Line(ledger.VOUCHER_HELD, row.serial, row.currency, -amount),
            ledger.Line(ledger.MERCHANT, merchant_mid, row.currency, amount),
        ],
        reference=reference,
    )
    await audit.record(
        session,
        "voucher.capture",
        actor=actor,
        serial=row.serial,
        merchant_mid=merchant_mid,
        subject=reference,
        details={"amount": amount, "currency": row.currency},
    )


async def release(
    session: AsyncSession, voucher_id: int, amount: int, *, reference: str, actor: str = "system"
) -> None:
    """Held value goes back to the voucher (cancel, expiry)."""
    row = await _move_held(session, voucher_id, amount, back=True)
    await ledger.post(
        session,
        "voucher_release",
        [
            ledger.Line(ledger.VOUCHER_HELD, row.serial, row.currency, -amount),
            ledger.Line(ledger.VOUCHER, row.serial, row.currency, amount),
        ],
        reference=reference,
    )
    await audit.record(
        session,
        "voucher.release",
        actor=actor,
        serial=row.serial,
        subject=reference,
        details={"amount": amount, "currency": row.currency},
    )


# Allowed operator transitions: action -> (statuses it may start from, status it leads to).
TRANSITIONS = {
    "freeze": ((ACTIVE,), FROZEN),
    "unfreeze": ((FROZEN,), ACTIVE),
    "void": ((ACTIVE, FROZEN), VOID),
}


async def change_status(
    session: AsyncSession,
    serial: str,
    action: str,
    *,
    actor: str = "operator",
    reason: str | None = None,
) -> Voucher:
    """Freeze, unfreeze or void. An illegal transition is an error, never a silent no-op.

    Voiding needs nothing held; the value left moves out of the float to the `voided` account.
    """
    sources, target = TRANSITIONS[action]
    # Locked: the value a void writes off must be the value the row has when it is voided.
    voucher = await get_by_serial(session, serial, lock=True)
    conditions = [Voucher.id == voucher.id, Voucher.status.in_(sources)]
    values: dict[str, object] = {"status": target, "updated_at": clock.now()}
    if action == "void":
        conditions.append(Voucher.held == 0)
        values["remaining"] = 0
    row = (
        await session.execute(
            update(Voucher)
            .where(*conditions)
            .values(**values)
            .returning(Voucher)
            .execution_options(populate_existing=True)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if row is None:
        raise IllegalStateChange(
            f"Cannot {action} voucher {serial}: it is {voucher.status}"
            + (" with value held for a payment" if voucher.held else ""),
            after_rollback=[
                audit.rejection(
                    f"voucher.{action}",
                    actor=actor,
                    serial=serial,
                    reason=f"from_{voucher.status.lower()}",
                )
            ],
        )
    if action == "void" and voucher.remaining:
        await ledger.post(
            session,
            "voucher_void",
            [
                ledger.Line(ledger.VOUCHER, serial, voucher.currency, -voucher.remaining),
                ledger.Line(ledger.VOIDED, voucher.currency, voucher.currency, voucher.remaining),
            ],
            reference=f"serial:{serial}",
        )
    await audit.record(
        session,
        f"voucher.{action}",
        actor=actor,
        serial=serial,
        reason=reason,
        details={"from": voucher.status, "to": target},
    )
    return row
