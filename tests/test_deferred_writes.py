"""Deferred writes: sent before the session's next statement or its commit, never lost, never
sent after a rollback, merged per row; journal entries of any size still land whole."""

import pytest
from sqlalchemy import func, select

from pinpay.audit import service as audit
from pinpay.audit.models import AuditRecord
from pinpay.deferred_writes import defer_update, pending
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry, JournalLine
from pinpay.merchants.models import Merchant
from pinpay.runtime import Runtime
from tests.factories import create_merchant


async def _count_actions(runtime: Runtime, action: str) -> int:
    async with runtime.transaction() as session:
        found = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
        )
    return int(found or 0)


async def test_a_read_in_the_same_transaction_sees_the_queued_writes(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await audit.record(session, "test.first", details={"n": 1})
        await audit.record(session, "test.first", details={"n": 2})
        assert pending(session) == 1  # two rows of one table: one INSERT
        seen = await session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "test.first")
        )
        assert seen == 2 and pending(session) == 0
    assert await _count_actions(runtime, "test.first") == 2


async def test_writes_queued_until_the_commit_are_committed(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await audit.record(session, "test.at_commit")
        await ledger.post(
            session,
            "test",
            [ledger.Line("voucher", "dw-a", "EUR", -5), ledger.Line("voucher", "dw-b", "EUR", 5)],
            reference="dw/at-commit",
        )
    assert await _count_actions(runtime, "test.at_commit") == 1
    async with runtime.transaction() as session:
        assert await ledger.balance(session, "voucher", "dw-b", "EUR") == 5


async def test_a_rolled_back_transaction_sends_nothing(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.transaction() as session:
            await audit.record(session, "test.rolled_back")
            raise RuntimeError("refused")
    assert await _count_actions(runtime, "test.rolled_back") == 0


async def test_changes_to_one_row_are_merged_into_one_update(runtime: Runtime) -> None:
    shop = await create_merchant(runtime, "Deferred")
    async with runtime.transaction() as session:
        merchant = await session.scalar(
            select(Merchant).where(Merchant.mid == shop.merchant.mid).with_for_update()
        )
        assert merchant is not None
        defer_update(session, merchant, name="First")
        defer_update(session, merchant, name="Second", disposition_seconds=77)
        assert pending(session) == 1 and merchant.name == "Second"
    async with runtime.transaction() as session:
        stored = await session.scalar(select(Merchant).where(Merchant.mid == shop.merchant.mid))
        assert stored is not None
        assert (stored.name, stored.disposition_seconds) == ("Second", 77)


@pytest.mark.parametrize("size", [1, ledger.MAX_DEFERRED_LINES, ledger.MAX_DEFERRED_LINES + 1])
async def test_entries_of_every_size_land_whole(runtime: Runtime, size: int) -> None:
    # An issue of many vouchers is one entry with a line per voucher (see the 20,000 case).
    lines = [ledger.Line("voucher", f"dw-{size}-{n}", "EUR", 1) for n in range(size)]
    lines.append(ledger.Line("issuance", "EUR", "EUR", -size))
    async with runtime.transaction() as session:
        await ledger.post(session, "test", lines, reference=f"dw/size-{size}")
        await ledger.post(session, "test", lines, reference=f"dw/size-{size}-again")
    async with runtime.transaction() as session:
        entries = list(
            await session.scalars(
                select(JournalEntry.id).where(JournalEntry.reference.like(f"dw/size-{size}%"))
            )
        )
        written = await session.scalar(
            select(func.count()).select_from(JournalLine).where(JournalLine.entry_id.in_(entries))
        )
        assert len(entries) == 2 and written == 2 * (size + 1)
        assert await ledger.unbalanced_entries(session) == []


async def test_an_entry_with_more_lines_than_postgresql_takes_parameters(runtime: Runtime) -> None:
    size = 20_000  # four parameters a line: 80,000, past PostgreSQL's 32,767 in one statement
    lines = [ledger.Line("voucher", f"dw-big-{n}", "EUR", 1) for n in range(size)]
    lines.append(ledger.Line("issuance", "EUR", "EUR", -size))
    async with runtime.transaction() as session:
        await ledger.post(session, "test", lines, reference="dw/big")
    async with runtime.transaction() as session:
        written = await session.scalar(
            select(func.count())
            .select_from(JournalLine)
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .where(JournalEntry.reference == "dw/big")
        )
        assert written == size + 1


async def test_rows_of_one_table_take_their_ids_in_the_order_queued(runtime: Runtime) -> None:
    # A payment's cards and audit records are read back by id: one statement must not shuffle.
    async with runtime.transaction() as session:
        for n in range(12):
            if n % 4 == 0:  # other writes in between, as in a real request
                lines = [ledger.Line("voucher", "dw-o", "EUR", -1)]
                lines.append(ledger.Line("voucher", "dw-p", "EUR", 1))
                await ledger.post(session, "test", lines, reference=f"dw/order-{n}")
            await audit.record(session, "test.order", details={"n": n})
    async with runtime.transaction() as session:
        rows = await session.scalars(
            select(AuditRecord).where(AuditRecord.action == "test.order").order_by(AuditRecord.id)
        )
        assert [row.details for row in rows] == [{"n": n} for n in range(12)]
