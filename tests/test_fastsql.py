"""The short way to PostgreSQL (pinpay.fastsql) behaves as `session.execute` does: same rows,
same transaction, queued writes first, the same exceptions, a dead connection invalidated."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, exc, func, insert, select, text

from pinpay import fastsql
from pinpay.audit import service as audit
from pinpay.audit.models import AuditRecord
from pinpay.fraud.models import Lockout
from pinpay.kit import clock
from pinpay.merchants.models import Merchant
from pinpay.runtime import Runtime
from tests.factories import create_merchant

_BY_MID = select(Merchant.id, Merchant.mid, Merchant.created_at, Merchant.currencies).where(
    Merchant.mid == bindparam("mid"), Merchant.status == "ACTIVE"
)
_COUNT_ACTION = (
    select(func.count().label("n")).select_from(AuditRecord).where(AuditRecord.action == "fs.q")
)
_INSERT_LOCKOUT = (
    insert(Lockout)
    .values(
        key_hash=bindparam("key_hash"),
        kind="test",
        until=bindparam("at"),
        level=1,
        created_at=bindparam("at"),
        updated_at=bindparam("at"),
    )
    .returning(Lockout.id)
)
_EXPANDING = select(Merchant.id).where(Merchant.mid.in_(bindparam("mids", expanding=True)))


async def test_rows_are_those_session_execute_gives(runtime: Runtime) -> None:
    shop = await create_merchant(runtime, "Fast rows")
    async with runtime.transaction() as session:
        fast = await fastsql.fetch(session, _BY_MID, {"mid": shop.merchant.mid})
        slow = (await session.execute(_BY_MID, {"mid": shop.merchant.mid})).mappings().all()
    assert fast == [dict(row) for row in slow]
    assert fast[0].mid == shop.merchant.mid and fast[0].created_at.tzinfo is not None


async def test_queued_writes_go_first_and_roll_back_with_the_transaction(
    runtime: Runtime,
) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.transaction() as session:
            await audit.record(session, "fs.q")
            seen = await fastsql.fetch_one(session, _COUNT_ACTION, {})
            assert seen is not None and seen.n == 1  # the queued row was sent before the read
            raise RuntimeError("refused")
    async with runtime.transaction() as session:
        after = await fastsql.fetch_one(session, _COUNT_ACTION, {})
    assert after is not None and after.n == 0  # the rollback took it away again


async def test_a_write_as_first_statement_is_inside_the_transaction(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with runtime.transaction() as session:
            inserted = await fastsql.fetch_one(
                session, _INSERT_LOCKOUT, {"key_hash": "fs-first", "at": clock.now()}
            )
            assert inserted is not None
            raise RuntimeError("refused")
    async with runtime.transaction() as session:
        left = await session.scalar(select(Lockout.id).where(Lockout.key_hash == "fs-first"))
    assert left is None


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(runtime: Runtime) -> None:
    params: dict[str, Any] = {"key_hash": "fs-twice", "at": clock.now()}
    async with runtime.transaction() as session:
        await fastsql.fetch(session, _INSERT_LOCKOUT, params)
    with pytest.raises(exc.IntegrityError):
        async with runtime.transaction() as session:
            await fastsql.fetch(session, _INSERT_LOCKOUT, params)


async def test_expanding_parameters_are_refused(runtime: Runtime) -> None:
    if runtime.settings.database_url.startswith("sqlite"):
        return  # only the PostgreSQL way compiles statements itself
    async with runtime.transaction() as session:
        with pytest.raises(ValueError, match="expanding"):
            await fastsql.fetch(session, _EXPANDING, {"mids": ["1"]})


@pytest.mark.postgres_only
async def test_a_dead_connection_is_invalidated_and_the_next_request_works(
    runtime: Runtime,
) -> None:
    shop = await create_merchant(runtime, "Fast dead")
    with pytest.raises(exc.DBAPIError) as raised:
        async with runtime.transaction() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            async with runtime.engine.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                # Wait until it is gone: until then, the next message may race the FATAL one.
                for _ in range(100):
                    alive = await other.scalar(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": pid},
                    )
                    if not alive:
                        break
                    await asyncio.sleep(0.05)
            # ... and until this side has read the server's goodbye: a dead connection, not a
            # statement racing the FATAL message.
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            for _ in range(100):
                if driver is None or driver.is_closed():
                    break
                await asyncio.sleep(0.05)
            await fastsql.fetch(session, _BY_MID, {"mid": shop.merchant.mid})
    assert raised.value.connection_invalidated
    async with runtime.transaction() as session:
        rows = await fastsql.fetch(session, _BY_MID, {"mid": shop.merchant.mid})
    assert [r.mid for r in rows] == [shop.merchant.mid]
