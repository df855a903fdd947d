"""The SHA-256 hash chain over audit records, sealed by the worker in commit order.

Requests only append records; chaining inside the request would serialize every write. The worker
gives each committed record the next place in the chain, and signs the head with the voucher
signing key, so editing, removing or reordering a sealed record - or rewriting the whole chain
without the key - is found by `verify_chain`.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit.models import AuditChainHead, AuditRecord, AuditSeal
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring

GENESIS = "0" * 64
# No PinPay transaction stays open this long, so a record older than this that is still unsealed
# cannot appear any more below the floor: the sealer only looks above it.
_STRAGGLER_WINDOW = timedelta(minutes=15)


def canonical(record: AuditRecord) -> bytes:
    body = {
        "id": record.id,
        "created_at": record.created_at.astimezone(UTC).isoformat(),
        "actor": record.actor,
        "action": record.action,
        "outcome": record.outcome,
        "reason": record.reason,
        "merchant_mid": record.merchant_mid,
        "customer_id": record.customer_id,
        "serial": record.serial,
        "subject": record.subject,
        "request_id": record.request_id,
        "details": record.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def link(prev_hash: str, seq: int, record: AuditRecord) -> str:
    return hashlib.sha256(f"{prev_hash}|{seq}|".encode() + canonical(record)).hexdigest()


def _head_message(seq: int, hash_: str) -> bytes:
    return f"pinpay-audit-head|{seq}|{hash_}".encode()


async def _locked_head(session: AsyncSession, keyring: Keyring) -> AuditChainHead:
    head = await session.scalar(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    )
    if head is None:
        # Two sealers on a fresh database both find no head: the second to insert must wait for
        # the first's row and then use it, not fail on the primary key.
        kid, signature = keyring.sign(_head_message(0, GENESIS))
        dialect = (await session.connection()).dialect.name
        insert_head = (pg_insert if dialect == "postgresql" else sqlite_insert)(AuditChainHead)
        await session.execute(
            insert_head.values(
                id=1, seq=0, hash=GENESIS, floor_id=0, sign_kid=kid, signature=signature
            ).on_conflict_do_nothing(index_elements=["id"])
        )
        head = await session.scalar(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        )
        assert head is not None
    return head


async def seal_pending(session: AsyncSession, keyring: Keyring, limit: int = 1000) -> int:
    """Seal up to `limit` committed, unsealed records; returns how many were sealed."""
    head = await _locked_head(session, keyring)
    pending = (
        await session.scalars(
            select(AuditRecord)
            .outerjoin(AuditSeal, AuditSeal.record_id == AuditRecord.id)
            .where(AuditSeal.record_id.is_(None), AuditRecord.id > head.floor_id)
            .order_by(AuditRecord.id)
            .limit(limit)
        )
    ).all()
    if not pending:
        return 0
    seq, prev = head.seq, head.hash
    sealed_at = clock.now()
    seals = []
    for record in pending:
        seq += 1
        current = link(prev, seq, record)
        seals.append(
            {
                "record_id": record.id,
                "seq": seq,
                "prev_hash": prev,
                "hash": current,
                "sealed_at": sealed_at,
            }
        )
        prev = current
    await session.execute(insert(AuditSeal), seals)
    floor = await session.scalar(
        select(func.max(AuditSeal.record_id))
        .join(AuditRecord, AuditRecord.id == AuditSeal.record_id)
        .where(
            AuditRecord.created_at < sealed_at - _STRAGGLER_WINDOW,
            AuditSeal.record_id > head.floor_id,
        )
    )
    kid, signature = keyring.sign(_head_message(seq, prev))
    await session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(
            seq=seq,
            hash=prev,
            floor_id=max(head.floor_id, floor or 0),
            sign_kid=kid,
            signature=signature,
        )
    )
    return len(pending)


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    problems: list[str] = field(default_factory=list)


async def verify_chain(session: AsyncSession, keyring: Keyring, chunk: int = 5000) -> ChainReport:
    report = ChainReport()
    expected_seq, prev = 0, GENESIS
    last_seq = 0
    while True:
        rows = (
            await session.execute(
                select(AuditSeal, AuditRecord)
                .outerjoin(AuditRecord, AuditRecord.id == AuditSeal.record_id)
                .where(AuditSeal.seq > last_seq)
                .order_by(AuditSeal.seq)
                .limit(chunk)
            )
        ).all()
        if not rows:
            break
        for seal, record in rows:
            expected_seq += 1
            last_seq = seal.seq
            if seal.seq != expected_seq:
                report.problems.append(f"chain gap: expected seq {expected_seq}, found {seal.seq}")
                expected_seq = seal.seq
            if record is None:
                report.problems.append(f"seq {seal.seq}: record {seal.record_id} is missing")
            elif seal.prev_hash != prev or link(prev, seal.seq, record) != seal.hash:
                report.problems.append(
                    f"seq {seal.seq}: record {seal.record_id} does not match its seal (edited)"
                )
            prev = seal.hash
            report.sealed += 1
    head = await session.get(AuditChainHead, 1)
    if head is not None:
        if head.seq != last_seq or head.hash != prev:
            report.problems.append(
                f"chain head says seq {head.seq}, chain ends at {last_seq} (records removed?)"
            )
        if not keyring.verify(head.sign_kid, _head_message(head.seq, head.hash), head.signature):
            report.problems.append("chain head signature is invalid (chain rewritten?)")
    elif report.sealed:
        report.problems.append("chain head is missing")
    report.unsealed = int(
        await session.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .outerjoin(AuditSeal, AuditSeal.record_id == AuditRecord.id)
            .where(AuditSeal.record_id.is_(None))
        )
        or 0
    )
    return report
