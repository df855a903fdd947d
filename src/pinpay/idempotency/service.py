"""Idempotency-Key: the same key and body within 24 h replays the first response.

The key row is claimed with INSERT ... ON CONFLICT DO NOTHING inside the request's transaction:
a concurrent request with the same key waits on the unique index until the first one commits,
then finds its stored response. A request that fails rolls back its claim, so it can be retried.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.db import dialect_name
from pinpay.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequestParameter
from pinpay.idempotency.models import IdempotencyKey
from pinpay.kit import clock

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
IN_PROGRESS = 0  # response_status while the claiming request has not finished


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Same JSON meaning, same fingerprint: key order and white space do not matter."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


async def claim(
    session: AsyncSession, merchant_id: int, key: str, fingerprint: str
) -> Replay | None:
    """Claim `key` for this request, or return the response to replay."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequestParameter(
            "Idempotency-Key must be 1 to 255 printable characters", param="Idempotency-Key"
        )
    now = clock.now()
    values = {
        "merchant_id": merchant_id,
        "key": key,
        "request_hash": fingerprint,
        "response_status": IN_PROGRESS,
        "response_body": {},
        "created_at": now,
        "expires_at": now + TTL,
    }
    dialect_insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    claimed = await session.execute(
        dialect_insert(IdempotencyKey)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
        .returning(IdempotencyKey.id)
    )
    if claimed.scalar_one_or_none() is not None:
        return None
    existing = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    )
    if existing is None:
        raise IdempotencyKeyInUse()
    if existing.expires_at <= now:
        # An expired key is free again: forget the old response and claim it afresh.
        await session.delete(existing)
        await session.flush()
        return await claim(session, merchant_id, key, fingerprint)
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    if existing.response_status == IN_PROGRESS:
        raise IdempotencyKeyInUse()
    return Replay(existing.response_status, existing.response_body)


async def remember(
    session: AsyncSession, merchant_id: int, key: str, status: int, body: dict[str, Any]
) -> None:
    row = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    )
    if row is not None:
        row.response_status, row.response_body = status, body
        await session.flush()


async def remember_refusal(
    session: AsyncSession,
    merchant_id: int,
    key: str,
    fingerprint: str,
    status: int,
    body: dict[str, Any],
) -> None:
    """Store a refused request's answer after its transaction rolled back, so that a retry gets
    the same answer even if the state has moved on (3007, then 2017, would confuse a client)."""
    now = clock.now()
    dialect_insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    await session.execute(
        dialect_insert(IdempotencyKey)
        .values(
            merchant_id=merchant_id,
            key=key,
            request_hash=fingerprint,
            response_status=status,
            response_body=body,
            created_at=now,
            expires_at=now + TTL,
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
    )


async def purge_expired(session: AsyncSession, limit: int = 1000) -> int:
    """Worker duty: drop keys past their 24 hours."""
    ids = (
        await session.scalars(
            select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= clock.now()).limit(limit)
        )
    ).all()
    if ids:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))
    return len(ids)
