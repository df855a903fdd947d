"""The double-entry journal: the one way value moves, and the proof that none was lost.

Balances that belong to one voucher or one wallet are also columns, updated by their own domain in
the same transaction as the entry. Shared accounts (a merchant's payable, a currency's float) are
only ever derived from the journal: a row updated by every payment would serialize them all.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
) -> int:
    """Append one balanced entry; returns its id. Runs in the caller's transaction."""
    check_balanced(lines)
    entry_id = (
        await session.execute(
            insert(JournalEntry)
            .values(created_at=at or clock.now(), kind=kind, reference=reference)
            .returning(JournalEntry.id)
        )
    ).scalar_one()
    await session.execute(
        insert(JournalLine),
        [
            {
                "entry_id": entry_id,
                "account_kind": line.account_kind,
                "account_ref": line.account_ref,
                "currency": line.currency,
                "amount": line.amount,
            }
            for line in lines
        ],
    )
    return int(entry_id)


async def balance(session: AsyncSession, kind: str, ref: str, currency: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(JournalLine.amount), 0)).where(
            JournalLine.account_kind == kind,
            JournalLine.account_ref == ref,
            JournalLine.currency == currency,
        )
    )
    return int(total or 0)


async def balances_of_kind(session: AsyncSession, kind: str) -> dict[AccountKey, int]:
    rows = await session.execute(
        select(JournalLine.account_ref, JournalLine.currency, func.sum(JournalLine.amount))
        .where(JournalLine.account_kind == kind)
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
