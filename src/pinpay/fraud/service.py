"""Lockouts against PIN guessing (API.md section 3, DESIGN.md "Fraud and abuse").

Guessing a PIN is a search over the whole space, so wrong PINs count against every key the
attempt carries at once: the payment, the customer id, the IP, the device cookie, the merchant,
and a global tripwire. Any locked key refuses the attempt with the same generic message as a
wrong PIN. Counters live in the database, or in Redis when several servers share them.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

from sqlalchemy import Select, bindparam, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay import fastsql
from pinpay.audit import service as audit
from pinpay.config import Settings
from pinpay.db import UTCDateTime, dialect_name
from pinpay.errors import PinNotAccepted
from pinpay.fraud.models import Lockout, PinFailure
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring

GLOBAL = "global"
MAX_LOCKOUT = timedelta(days=1)
# A key locked again within this long after its last lockout ends is locked twice as long.
REPEAT_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class Subject:
    """Who is entering a PIN, as far as we can tell."""

    merchant: str
    payment: str | None = None
    customer: str | None = None
    ip: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Key:
    kind: str
    hash: str
    threshold: int
    window: timedelta
    lock_for: timedelta


@cache
def _locked_statement(keys: int) -> Select[int]:
    """Built once per number of keys (four to six): every PIN entry runs it, the short way to
    PostgreSQL (pinpay.fastsql), which takes no expanding IN."""
    return (
        select(Lockout.id)
        .where(
            Lockout.key_hash.in_([bindparam(f"hash{n}") for n in range(keys)]),
            Lockout.until > bindparam("now", type_=UTCDateTime()),
        )
        .limit(1)
    )


class SqlCounters:
    """Failures and lockouts as rows: no shared row is updated, failures are only inserted."""

    async def locked(self, session: AsyncSession, keys: list[Key], now: datetime) -> bool:
        params: dict[str, object] = {f"hash{n}": k.hash for n, k in enumerate(keys)}
        params["now"] = now
        return await fastsql.fetch_one(session, _locked_statement(len(keys)), params) is not None

    async def count_failure(
        self,
        session: AsyncSession,
        keys: list[Key],
        now: datetime,
    ) -> list[Key]:
        """Record one failure against every key; returns the keys now over their threshold."""
        await session.execute(
            insert(PinFailure), [{"key_hash": k.hash, "created_at": now} for k in keys]
        )
        longest = max(k.window for k in keys)
        counts = dict(
            (
                await session.execute(
                    select(PinFailure.key_hash, func.count())
                    .where(
                        PinFailure.key_hash.in_([k.hash for k in keys]),
                        PinFailure.created_at > now - longest,
                    )
                    .group_by(PinFailure.key_hash)
                )
            ).all()
        )
        over = []
        for key in keys:
            if key.window != longest:  # a shorter window (the global minute) counts apart
                counts[key.hash] = int(
                    await session.scalar(
                        select(func.count()).where(
                            PinFailure.key_hash == key.hash,
                            PinFailure.created_at > now - key.window,
                        )
                    )
                    or 0
                )
            if counts.get(key.hash, 0) >= key.threshold:
                over.append(key)
        return over

    async def lock(self, session: AsyncSession, key: Key, now: datetime) -> tuple[int, datetime]:
        previous = await session.scalar(select(Lockout).where(Lockout.key_hash == key.hash))
        level = 1
        if previous is not None and previous.until > now - REPEAT_MEMORY:
            level = previous.level + 1
        until = now + min(key.lock_for * 2 ** (level - 1), MAX_LOCKOUT)
        upsert = (pg_insert if dialect_name(session) == "postgresql" else sqlite_insert)(Lockout)
        await session.execute(
            upsert.values(
                key_hash=key.hash,
                kind=key.kind,
                until=until,
                level=level,
                created_at=now,
                updated_at=now,
            ).on_conflict_do_update(
                index_elements=["key_hash"],
                set_={"until": until, "level": level, "updated_at": now},
            )
        )
        # Counting starts afresh once the lockout ends.
        await session.execute(delete(PinFailure).where(PinFailure.key_hash == key.hash))
        return level, until

    async def close(self) -> None:
        """Nothing to release: the rows live in the database."""

    async def purge(self, session: AsyncSession, older_than: datetime) -> int:
        result = await session.execute(delete(PinFailure).where(PinFailure.created_at < older_than))
        return int(getattr(result, "rowcount", 0) or 0)


class Counters(Protocol):
    async def locked(self, session: AsyncSession, keys: list[Key], now: datetime) -> bool: ...

    async def count_failure(
        self,
        session: AsyncSession,
        keys: list[Key],
        now: datetime,
    ) -> list[Key]: ...

    async def lock(
        self,
        session: AsyncSession,
        key: Key,
        now: datetime,
    ) -> tuple[int, datetime]: ...

    async def purge(self, session: AsyncSession, older_than: datetime) -> int: ...

    async def close(self) -> None: ...


class Guard:
    def __init__(
        self, settings: Settings, keyring: Keyring, counters: Counters | None = None
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.counters = counters or SqlCounters()

    def keys(self, subject: Subject) -> list[Key]:
        s = self.settings
        window, lock_for = (
            timedelta(seconds=s.lockout_window_seconds),
            timedelta(seconds=s.lockout_seconds),
        )
        named = [
            ("payment", subject.payment),
            ("customer", subject.customer and f"{subject.merchant}:{subject.customer}"),
            ("ip", subject.ip),
            ("device", subject.device),
        ]
        keys = [
            Key(kind, self._hash(kind, value), s.lockout_threshold, window, lock_for)
            for kind, value in named
            if value
        ]
        keys.append(
            Key(
                "merchant",
                self._hash("merchant", subject.merchant),
                s.merchant_lockout_threshold,
                window,
                lock_for,
            )
        )
        keys.append(
            Key(
                GLOBAL,
                self._hash(GLOBAL, "*"),
                s.global_wrong_pins_per_minute,
                timedelta(minutes=1),
                timedelta(seconds=s.global_pause_seconds),
            )
        )
        return keys

    def _hash(self, kind: str, value: str) -> str:
        # Keyed, so that a stored key reveals no IP address or customer id.
        return self.keyring.keyed_hash(f"lockout|{kind}|{value}")[1].hex()

    async def record_failure(self, session: AsyncSession, subject: Subject) -> None:
        now = clock.now()
        for key in await self.counters.count_failure(session, self.keys(subject), now):
            level, until = await self.counters.lock(session, key, now)
            await audit.record(
                session,
                "fraud.lockout",
                outcome="alert",
                actor="fraud",
                merchant_mid=subject.merchant,
                subject=subject.payment,
                reason=f"{key.kind}_locked",
                details={"kind": key.kind, "level": level, "until": until.isoformat()},
            )

    @asynccontextmanager
    async def attempt(self, session: AsyncSession, subject: Subject) -> AsyncIterator[None]:
        """Refuse at once while any key is locked; count a refused PIN against every key."""
        if await self.counters.locked(session, self.keys(subject), clock.now()):
            raise PinNotAccepted(
                after_rollback=[
                    audit.rejection(
                        "voucher.pin_entry",
                        actor="customer",
                        reason="locked_out",
                        merchant_mid=subject.merchant,
                        subject=subject.payment,
                    ),
                ]
            )
        try:
            yield
        except PinNotAccepted as refused:

            async def count(follow_up_session: AsyncSession) -> None:
                await self.record_failure(follow_up_session, subject)

            refused.after_rollback.append(count)
            raise
