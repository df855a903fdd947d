"""Many customers spending one voucher at the same moment: no value is created or lost.

The spend is one conditional UPDATE (DESIGN.md, correctness rules). On PostgreSQL fifty
transactions race for the row on fifty connections; on SQLite, BEGIN IMMEDIATE queues them.
"""

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from pinpay.audit.models import AuditRecord
from pinpay.audit.verify import verify_all
from pinpay.config import Settings
from pinpay.errors import PinNotAccepted
from pinpay.ledger import service as ledger
from pinpay.runtime import Runtime
from pinpay.vouchers import service
from pinpay.vouchers.models import ACTIVE
from tests.factories import issue_vouchers

FACE = 1000  # 10.00 EUR
PG_TASKS = 50
SQLITE_TASKS = 10
AMOUNTS = (10, 30, 70, 70, 70, 120, 250, 400)


@dataclass(frozen=True)
class RaceResult:
    serial: str
    accepted: list[int]
    refused: list[int]


@pytest.fixture
async def wide_runtime(
    backend: str, runtime: Runtime, settings: Settings
) -> AsyncIterator[Runtime]:
    """PostgreSQL with a connection for every task (the `runtime` fixture has emptied the
    tables); no overflow, so the race never holds more connections than it has tasks."""
    wide = Runtime.build(
        settings.model_copy(update={"db_pool_size": PG_TASKS, "db_max_overflow": 0}),
        runtime.keyring,
    )
    try:
        # Every connection opened before the race, so that the tasks start together.
        connections = [await wide.engine.connect() for _ in range(PG_TASKS)]
        for connection in connections:
            await connection.close()
        yield wide
    finally:
        await wide.close()


async def _max_lock_waiters(monitor: Runtime, done: asyncio.Event) -> int:
    """Peak number of this database's sessions waiting on a lock while the race runs."""
    peak = 0
    async with monitor.engine.connect() as connection:
        while not done.is_set():
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            peak = max(peak, int(waiting or 0))
            await connection.rollback()
            await asyncio.sleep(0.001)
    return peak


async def _race(runtime: Runtime, amounts: list[int]) -> RaceResult:
    voucher = (await issue_vouchers(runtime, face_value=FACE)).vouchers[0]
    start = asyncio.Event()

    async def spend(index: int, amount: int) -> int:
        await start.wait()
        async with runtime.unit_of_work() as session:
            held = await service.hold(
                session,
                runtime.keyring,
                pin=voucher.pin,
                amount=amount,
                currency="EUR",
                reference=f"race_{index}",
            )
            # A request that keeps the row locked a moment: the others queue on the lock and
            # must re-check `remaining >= x` against the committed value when they get it.
            await asyncio.sleep(0.005)
        return held.amount

    tasks = [asyncio.create_task(spend(i, amount)) for i, amount in enumerate(amounts)]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    accepted: list[int] = []
    refused: list[int] = []
    for amount, outcome in zip(amounts, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            # Every loser gets the one generic refusal: no deadlock, no serialization error.
            assert type(outcome) is PinNotAccepted, repr(outcome)
            refused.append(amount)
        else:
            assert outcome == amount
            accepted.append(amount)
    return RaceResult(voucher.serial, accepted, refused)


async def _assert_consistent(runtime: Runtime, race: RaceResult) -> None:
    taken = sum(race.accepted)
    async with runtime.transaction() as session:
        voucher = await service.get_by_serial(session, race.serial)
        journal_remaining = await ledger.balance(session, ledger.VOUCHER, race.serial, "EUR")
        journal_held = await ledger.balance(session, ledger.VOUCHER_HELD, race.serial, "EUR")
        outcomes = await session.execute(
            select(AuditRecord.outcome, func.count())
            .where(AuditRecord.action == "voucher.hold")
            .group_by(AuditRecord.outcome)
        )
        audited = dict(outcomes.all())
        report = await verify_all(session, runtime.keyring)
    assert taken <= FACE
    assert (voucher.remaining, voucher.held) == (FACE - taken, taken)
    assert voucher.remaining + voucher.held == voucher.face_value == FACE
    assert voucher.status == ACTIVE
    assert (journal_remaining, journal_held) == (voucher.remaining, voucher.held)
    # Remaining only went down during the race, so a refusal means the value was not there.
    assert all(amount > voucher.remaining for amount in race.refused), (race, voucher.remaining)
    assert audited.get("ok", 0) == len(race.accepted)
    assert audited.get("rejected", 0) == len(race.refused)
    assert report.ok, report.problems


@pytest.mark.postgres_only
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_fifty_concurrent_spends_of_one_voucher_on_postgresql(
    runtime: Runtime, wide_runtime: Runtime, seed: int
) -> None:
    amounts = [random.Random(seed * 1000 + i).choice(AMOUNTS) for i in range(PG_TASKS)]
    assert sum(amounts) > FACE  # there must be losers
    done = asyncio.Event()
    monitor = asyncio.create_task(_max_lock_waiters(runtime, done))
    try:
        race = await _race(wide_runtime, amounts)
    finally:
        done.set()
    assert await monitor >= 2, "the spends never waited on each other: no race was tested"
    assert race.accepted and race.refused
    await _assert_consistent(wide_runtime, race)


@pytest.mark.postgres_only
async def test_seventy_times_fifty_spends_exactly_fourteen_on_postgresql(
    wide_runtime: Runtime,
) -> None:
    race = await _race(wide_runtime, [70] * PG_TASKS)
    # 14 x 70 = 980 fits in 1000, a fifteenth would not: exactly 14 win, whoever they are.
    assert (len(race.accepted), len(race.refused)) == (14, PG_TASKS - 14)
    await _assert_consistent(wide_runtime, race)


@pytest.mark.sqlite_only
async def test_concurrent_spends_queue_on_sqlite(backend: str, runtime: Runtime) -> None:
    race = await _race(runtime, [70, 250, 400, 120, 30, 250, 70, 400, 10, 120])
    assert race.accepted and race.refused
    await _assert_consistent(runtime, race)
