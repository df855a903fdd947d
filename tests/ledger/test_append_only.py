"""Journal and audit rows are history: the database itself refuses to change or remove them."""

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from pinpay.audit import service as audit
from pinpay.audit.chain import seal_pending
from pinpay.kit import clock
from pinpay.ledger import service as ledger
from pinpay.ledger.models import JournalEntry
from pinpay.runtime import Runtime

# table -> a harmless-looking change an insider might try
CHANGES = {
    "journal_entry": "kind = 'rewritten'",
    "journal_line": "amount = amount + 1",
    "audit_record": "outcome = 'ok', reason = NULL",
    "audit_seal": "hash = prev_hash",
}
KEYS = {"journal_entry": "id", "journal_line": "id", "audit_record": "id", "audit_seal": "seq"}


async def _one_row_in_each_table(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        await ledger.post(
            session,
            "test",
            [
                ledger.Line(ledger.ISSUANCE, "EUR", "EUR", -500),
                ledger.Line(ledger.VOUCHER, "1000000000000001", "EUR", 500),
            ],
            reference="append-only",
        )
        await audit.record(session, "voucher.hold", outcome=audit.REJECTED, reason="no funds")
    async with runtime.transaction() as session:
        assert await seal_pending(session, runtime.keyring) == 1


async def _snapshot(runtime: Runtime, table: str) -> list[tuple[object, ...]]:
    async with runtime.transaction() as session:
        rows = await session.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("table", sorted(CHANGES))
async def test_update_is_refused_by_the_database(runtime: Runtime, table: str) -> None:
    await _one_row_in_each_table(runtime)
    before = await _snapshot(runtime, table)
    with pytest.raises(DBAPIError, match=f"{table} is append-only"):
        async with runtime.transaction() as session:
            await session.execute(text(f"UPDATE {table} SET {CHANGES[table]}"))
    assert await _snapshot(runtime, table) == before


@pytest.mark.parametrize("table", sorted(CHANGES))
async def test_delete_is_refused_by_the_database(runtime: Runtime, table: str) -> None:
    await _one_row_in_each_table(runtime)
    # Rows nothing refers to, so that only the trigger, not a foreign key, can refuse the delete.
    async with runtime.transaction() as session:
        await session.execute(insert(JournalEntry).values(created_at=clock.now(), kind="bare"))
        await audit.record(session, "voucher.freeze")
    before = await _snapshot(runtime, table)
    with pytest.raises(DBAPIError, match=f"{table} is append-only"):
        async with runtime.transaction() as session:
            await session.execute(
                text(
                    f"DELETE FROM {table} WHERE {KEYS[table]} = "
                    f"(SELECT max({KEYS[table]}) FROM {table})"
                )
            )
    assert await _snapshot(runtime, table) == before


async def test_appending_is_still_allowed(runtime: Runtime) -> None:
    await _one_row_in_each_table(runtime)
    await _one_row_in_each_table(runtime)
    for table in CHANGES:
        assert len(await _snapshot(runtime, table)) == (4 if table == "journal_line" else 2)
