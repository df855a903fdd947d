"""The double-entry journal: the one way value moves, and the proof that none was lost.

Balances that belong to one voucher or one wallet are also columns, updated by their own domain in
the same transaction as the entry. Shared accounts (a merchant's payable, a currency's float) are
only ever derived from the journal: a row updated by every payment would serialize them all.
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from pinpay.db import UTCDateTime, dialect_name
from pinpay.deferred_writes import defer
from pinpay.errors import UnbalancedEntry
from pinpay.kit import clock
from pinpay.ledger.models import JournalEntry, JournalLine

# Account kinds. A voucher's and a wallet's accounts are keyed by serial / psc id.
ISSUANCE = "issuance"  # the float: value issued and not yet redeemed or written off, per currency
VOUCHER = "voucher"  # a voucher's spendable value (mirrors voucher.remaining)
VOUCHER_HELD = "voucher_held"  # value held for an authorized payment (mirrors voucher.held)
MERCHANT = "merchant"  # what PinPay owes a merchant
VOIDED = "voided"  # value of vouchers voided before use, per currency
BREAKAGE = "breakage"  # value left on vouchers when they expired, per currency

MAX_DEFERRED_LINES = 16  # entries up to this many lines go out with the request's other writes


@dataclass(frozen=True)
class Line:
    account_kind: str
    account_ref: str
    currency: str
    amount: int


AccountKey = tuple[str, str, str]  # (kind, ref, currency)


def check_balanced(lines: Sequence[Line]) -> None:
    if not lines:
        raise UnbalancedEntry("A journal entry needs at least one line.")
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if not isinstance(line.amount, int) or isinstance(line.amount, bool):
            raise UnbalancedEntry("Journal amounts are integer minor units.")
        totals[line.currency] += line.amount
    unbalanced = {cur: total for cur, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedEntry(f"Journal entry does not balance: {unbalanced}")


async def post(
    session: AsyncSession,
    kind: str,
    lines: Sequence[Line],
    *,
    reference: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one balanced entry in the caller's transaction.

    On PostgreSQL a payment's entry and its lines are one statement, queued with the request's
    other appends (`deferred_writes`). SQLite, which has no INSERT inside WITH, and an entry of
    many lines (a batch issue has one per voucher: one statement would pass PostgreSQL's 32,767
    parameters) take two statements at once."""
    check_balanced(lines)
    entry = EntryWithLines(kind, reference, at or clock.now(), tuple(lines))
    if len(lines) <= MAX_DEFERRED_LINES and dialect_name(session) == "postgresql":
        defer(session, entry)
        return
    entry_id = (
        await session.execute(
            insert(JournalEntry)
            .values(created_at=entry.at, kind=kind, reference=reference)
            .returning(JournalEntry.id)
        )
    ).scalar_one()
    await session.execute(
        insert(JournalLine),
        [{"entry_id": entry_id, **_line_values(line)} for line in lines],
    )


# The Tables behind the mapped classes, for the deferred form (see EntryWithLines.statement).
_ENTRIES = cast(Table, JournalEntry.__table__)
_LINES = cast(Table, JournalLine.__table__)
_LINE_TYPES: dict[str, TypeEngine[Any]] = {
    "account_kind": String(),
    "account_ref": String(),
    "currency": String(),
    "amount": BigInteger(),
}


def _line_values(line: Line) -> dict[str, Any]:
    return dict(zip(_LINE_TYPES, astuple(line), strict=True))


@dataclass(frozen=True)
class EntryWithLines:
    """A journal entry and its lines as one INSERT (PostgreSQL): the entry in a CTE, the lines
    taking its id, one SELECT per line joined by UNION ALL."""

    kind: str
    reference: str | None
    at: datetime
    lines: tuple[Line, ...]

    @property
    def shape(self) -> Hashable:
        return ("journal", len(self.lines))

    def statement(self, prefix: str) -> Insert:
        # On the Tables, not the mapped classes: given parameters, an ORM INSERT turns bulk.
        entry = (
            insert(_ENTRIES)
            .values(
                created_at=bindparam(prefix + "at", type_=UTCDateTime()),
                kind=bindparam(prefix + "kind", type_=String()),
                reference=bindparam(prefix + "reference", type_=String()),
            )
            .returning(JournalEntry.id)
            .cte(prefix + "entry")
        )
        rows: list[Select[Any]] = [
            select(
                entry.c.id,
                *(bindparam(f"{prefix}{n}_{c}", type_=t) for c, t in _LINE_TYPES.items()),
            )
            for n in range(len(self.lines))
        ]
        return insert(_LINES).from_select(
            ["entry_id", *_LINE_TYPES], rows[0] if len(rows) == 1 else union_all(*rows)
        )

    def params(self, prefix: str) -> dict[str, Any]:
        params = {prefix + "at": self.at, prefix + "kind": self.kind}
        params[prefix + "reference"] = self.reference
        for n, line in enumerate(self.lines):
            params.update({f"{prefix}{n}_{c}": v for c, v in _line_values(line).items()})
        return params


def kind_is(*kinds: str) -> ColumnElement[bool]:
    """`account_kind` is one of `kinds`, written into the SQL as literals: PostgreSQL's account
    index leaves out ROW_BALANCE_KINDS, and its planner can only use a partial index for a
    query it can prove stays inside it, which a bound parameter (of a generic plan) never does."""
    if len(kinds) == 1:
        return JournalLine.account_kind == literal(kinds[0], literal_execute=True)
    return JournalLine.account_kind.in_([literal(kind, literal_execute=True) for kind in kinds])


async def balance(session: AsyncSession, kind: str, ref: str, currency: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
            kind_is(kind),
            JournalLine.account_ref == ref,
            JournalLine.currency == currency,
        )
    )
    return int(total or 0)


async def balances_of_kind(session: AsyncSession, kind: str) -> dict[AccountKey, int]:
    rows = await session.execute(
        select(JournalLine.account_ref, JournalLine.currency, func.sum(JournalLine.amount))
        .where(kind_is(kind))
        .group_by(JournalLine.account_ref, JournalLine.currency)
    )
    return {(kind, ref, cur): int(total) for ref, cur, total in rows}


async def unbalanced_entries(session: AsyncSession, limit: int = 20) -> list[tuple[int, str, int]]:
    rows = await session.execute(
        select(JournalLine.entry_id, JournalLine.currency, func.sum(JournalLine.amount))
        .group_by(JournalLine.entry_id, JournalLine.currency)
        .having(func.sum(JournalLine.amount) != 0)
        .limit(limit)
    )
    return [(int(e), str(c), int(s)) for e, c, s in rows]


async def column_mismatches(
    session: AsyncSession, kind: str, columns: Select[str, str, int]
) -> list[str]:
    """Compare a domain's balance columns, given as (ref, currency, balance) rows, with the
    journal's balances of `kind`. Returns one line per account that disagrees."""
    journal = await balances_of_kind(session, kind)
    problems: list[str] = []
    seen: set[AccountKey] = set()
    for ref, currency, stored in await session.execute(columns):
        key = (kind, str(ref), str(currency))
        seen.add(key)
        derived = journal.get(key, 0)
        if int(stored) != derived:
            problems.append(
                f"{kind}:{ref} {currency}: column says {stored}, journal says {derived}"
            )
    problems.extend(
        f"{kind}:{ref} {cur}: journal balance {total} has no account row"
        for (k, ref, cur), total in journal.items()
        if (k, ref, cur) not in seen and total != 0
    )
    return problems


def lines_total(lines: Iterable[Line]) -> int:
    return sum(line.amount for line in lines)
