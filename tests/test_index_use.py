"""Queries served by a partial index can use it (migration 0011).

A planner uses a partial index only for a query it can prove stays inside the index's condition.
A bound parameter could be anything, so on PostgreSQL, whose prepared statements switch to a
generic plan, those queries write the values the proof needs as literals. Each query is caught
as it runs and planned again: on PostgreSQL as a forced generic plan, sequential scans off.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.customers import wallet
from pinpay.customers.models import CustomerAccount
from pinpay.ledger import service as ledger
from pinpay.ledger.models import ROW_BALANCE_KINDS
from pinpay.payments import service as payments
from pinpay.runtime import Runtime

Query = Callable[[AsyncSession], Awaitable[object]]
ACCOUNT = CustomerAccount(psc_id="psc_index_use")


async def _plan(runtime: Runtime, query: Query, table: str) -> str:
    """The plan of the first statement on `table` that `query` runs."""
    caught: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if f"FROM {table}" in statement and not statement.startswith("EXPLAIN"):
            caught.append((statement, parameters))

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        async with runtime.transaction() as session:
            await query(session)
            statement, parameters = caught[0]
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
                return "\n".join(str(row[-1]) for row in rows)
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await connection.exec_driver_sql(f"PREPARE index_use AS {statement}")
            try:
                # A generic plan does not depend on the values: NULL for every parameter.
                count = len(set(re.findall(r"\$(\d+)", statement)))
                nulls = ", ".join(["NULL"] * count)
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN EXECUTE index_use{f'({nulls})' if count else ''}"
                )
                return "\n".join(str(row[0]) for row in rows)
            finally:
                await connection.exec_driver_sql("DEALLOCATE index_use")
    finally:
        event.remove(engine, "before_cursor_execute", catch)


@pytest.mark.parametrize(
    ("query", "table", "index"),
    [
        (lambda s: payments.expire_due(s), "payment", "ix_payment_open_deadline"),
        (
            lambda s: ledger.balance(s, ledger.MERCHANT, "1000000001", "EUR"),
            "journal_line",
            "ix_journal_line_account",
        ),
        (lambda s: wallet.journal_balances(s, ACCOUNT), "journal_line", "ix_journal_line_account"),
        (lambda s: wallet.history(s, ACCOUNT), "journal_line", "ix_journal_line_account"),
    ],
    ids=["expiry duty", "merchant payable", "wallet balances", "wallet history"],
)
async def test_the_query_can_use_its_partial_index(
    runtime: Runtime, query: Query, table: str, index: str
) -> None:
    assert index in await _plan(runtime, query, table)


def test_the_account_index_leaves_out_only_the_accounts_kept_in_voucher_columns() -> None:
    # voucher.remaining and voucher.held; any other kind may be looked up by account.
    assert set(ROW_BALANCE_KINDS) == {ledger.VOUCHER, ledger.VOUCHER_HELD}
