"""The audit hash chain: sealed in order, verified clean, and every kind of tampering found."""

import asyncio

import pytest
from sqlalchemy import select, update

from pinpay.audit import service as audit
from pinpay.audit.chain import GENESIS, _head_message, link, seal_pending, verify_chain
from pinpay.audit.models import AuditChainHead, AuditRecord, AuditSeal
from pinpay.audit.verify import verify_all
from pinpay.kit.crypto import Keyring
from pinpay.runtime import Runtime
from tests.audit.tampering import tamper


async def _write(runtime: Runtime, count: int, action: str = "voucher.hold") -> None:
    for number in range(count):
        async with runtime.transaction() as session:
            await audit.record(
                session,
                action,
                outcome=audit.REJECTED if number % 2 else audit.OK,
                reason=f"reason {number}",
                serial=f"{number:016d}",
                details={"n": number},
            )


async def _seal(runtime: Runtime, limit: int = 1000) -> int:
    async with runtime.transaction() as session:
        return await seal_pending(session, runtime.keyring, limit)


async def _chain(runtime: Runtime) -> list[tuple[AuditSeal, AuditRecord]]:
    async with runtime.transaction() as session:
        rows = await session.execute(
            select(AuditSeal, AuditRecord)
            .join(AuditRecord, AuditRecord.id == AuditSeal.record_id)
            .order_by(AuditSeal.seq)
        )
        return [(seal, record) for seal, record in rows]


async def _problems(runtime: Runtime) -> list[str]:
    async with runtime.transaction() as session:
        return (await verify_all(session, runtime.keyring)).problems


async def test_records_are_sealed_in_order_and_verify_clean(runtime: Runtime) -> None:
    await _write(runtime, 5)
    async with runtime.transaction() as session:  # several records in one transaction
        for action in ("merchant.create", "voucher.freeze", "voucher.void"):
            await audit.record(session, action, actor="operator:alice")
    assert await _seal(runtime) == 8

    chain = await _chain(runtime)
    assert [seal.seq for seal, _ in chain] == list(range(1, 9))
    assert [record.id for _, record in chain] == sorted(record.id for _, record in chain)
    prev = GENESIS
    for seal, record in chain:
        assert seal.prev_hash == prev
        assert seal.hash == link(prev, seal.seq, record)
        prev = seal.hash
    async with runtime.transaction() as session:
        head = await session.get(AuditChainHead, 1)
        report = await verify_chain(session, runtime.keyring)
    assert head is not None and (head.seq, head.hash) == (8, prev)
    assert (report.sealed, report.unsealed, report.problems) == (8, 0, [])
    assert await _problems(runtime) == []


async def test_records_appended_after_a_seal_are_sealed_by_the_next_call(runtime: Runtime) -> None:
    await _write(runtime, 3)
    assert await _seal(runtime) == 3
    assert await _seal(runtime) == 0
    await _write(runtime, 2, action="voucher.capture")
    async with runtime.transaction() as session:
        pending = await verify_chain(session, runtime.keyring)
    # Not yet sealed is not broken: the worker gets to them.
    assert (pending.sealed, pending.unsealed, pending.problems) == (3, 2, [])
    assert await _seal(runtime, limit=1) == 1
    assert await _seal(runtime) == 1
    chain = await _chain(runtime)
    assert [seal.seq for seal, _ in chain] == [1, 2, 3, 4, 5]
    assert [record.action for _, record in chain][3:] == ["voucher.capture"] * 2
    assert await _problems(runtime) == []


async def test_an_edited_record_is_reported(runtime: Runtime) -> None:
    await _write(runtime, 4)
    await _seal(runtime)
    target = (await _chain(runtime))[1][1]
    await tamper(
        runtime,
        ("UPDATE audit_record SET outcome = 'ok', reason = NULL WHERE id = :id", {"id": target.id}),
    )
    problems = await _problems(runtime)
    assert problems == [f"seq 2: record {target.id} does not match its seal (edited)"]


async def test_a_deleted_record_is_reported(runtime: Runtime) -> None:
    await _write(runtime, 4)
    await _seal(runtime)
    target = (await _chain(runtime))[2][1]
    await tamper(runtime, ("DELETE FROM audit_record WHERE id = :id", {"id": target.id}))
    assert await _problems(runtime) == [f"seq 3: record {target.id} is missing"]


async def test_a_record_deleted_with_its_seal_is_reported(runtime: Runtime) -> None:
    await _write(runtime, 4)
    await _seal(runtime)
    middle, last = (await _chain(runtime))[1][1], (await _chain(runtime))[3][1]
    for target in (middle, last):
        await tamper(
            runtime,
            ("DELETE FROM audit_seal WHERE record_id = :id", {"id": target.id}),
            ("DELETE FROM audit_record WHERE id = :id", {"id": target.id}),
        )
    problems = await _problems(runtime)
    assert "chain gap: expected seq 2, found 3" in problems
    assert any(p.startswith("seq 3:") and "does not match its seal" in p for p in problems)
    assert "chain head says seq 4, chain ends at 3 (records removed?)" in problems


async def test_a_rewritten_chain_without_the_key_is_reported(runtime: Runtime) -> None:
    """The attacker edits a record and recomputes every hash after it, but cannot sign."""
    await _write(runtime, 4)
    await _seal(runtime)
    chain = await _chain(runtime)
    target = chain[1][1]
    await tamper(
        runtime,
        ("UPDATE audit_record SET reason = 'nothing happened' WHERE id = :id", {"id": target.id}),
    )
    chain = await _chain(runtime)  # re-read: the edited record
    prev, rewrites = GENESIS, []
    for seal, record in chain:
        current = link(prev, seal.seq, record)
        rewrites.append(
            (
                "UPDATE audit_seal SET prev_hash = :prev, hash = :hash WHERE seq = :seq",
                {"prev": prev, "hash": current, "seq": seal.seq},
            )
        )
        prev = current
    await tamper(runtime, *rewrites)
    async with runtime.transaction() as session:  # the head has no trigger: it is rewritten
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.id == 1).values(hash=prev)
        )
    assert await _problems(runtime) == ["chain head signature is invalid (chain rewritten?)"]

    # Signing with a key of one's own, even under the real key id, does not help.
    _kid, forged = Keyring.generate().sign(_head_message(len(chain), prev))
    async with runtime.transaction() as session:
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.id == 1).values(signature=forged)
        )
    assert await _problems(runtime) == ["chain head signature is invalid (chain rewritten?)"]


async def test_a_rewound_head_is_reported(runtime: Runtime) -> None:
    await _write(runtime, 3)
    await _seal(runtime)
    async with runtime.transaction() as session:
        await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=1))
    problems = await _problems(runtime)
    assert "chain head says seq 1, chain ends at 3 (records removed?)" in problems
    assert "chain head signature is invalid (chain rewritten?)" in problems


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-head", "existing-head"])
async def test_concurrent_sealers_never_fork_the_chain(runtime: Runtime, fresh: bool) -> None:
    if not fresh:
        await _write(runtime, 1)
        assert await _seal(runtime) == 1
    for _round in range(5):
        writers = [_write(runtime, 2) for _ in range(3)]
        sealers = [_seal(runtime, limit=3) for _ in range(3)]
        results = await asyncio.gather(*writers, *sealers)
        assert all(isinstance(n, int) for n in results[3:])
    while await _seal(runtime, limit=3):
        pass
    chain = await _chain(runtime)
    expected = 30 if fresh else 31
    assert [seal.seq for seal, _ in chain] == list(range(1, expected + 1))
    assert len({record.id for _, record in chain}) == expected
    async with runtime.transaction() as session:
        report = await verify_chain(session, runtime.keyring)
    assert (report.sealed, report.unsealed, report.problems) == (expected, 0, [])


async def test_two_sealers_racing_to_create_the_head_both_succeed(runtime: Runtime) -> None:
    """Two workers started on a fresh database: the second must wait for the first's head, not
    fail on it (PostgreSQL; SQLite's BEGIN IMMEDIATE queues the second before it reads)."""
    await _write(runtime, 4)
    async with runtime.transaction() as first:
        assert await seal_pending(first, runtime.keyring, limit=2) == 2
        second = asyncio.create_task(_seal(runtime))
        await asyncio.sleep(0.3)  # the second sealer is now waiting on the first's head row
        assert not second.done()
    assert await second == 2
    async with runtime.transaction() as session:
        report = await verify_chain(session, runtime.keyring)
    assert (report.sealed, report.unsealed, report.problems) == (4, 0, [])
