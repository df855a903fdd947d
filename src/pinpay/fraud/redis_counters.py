"""Lockout counters in Redis, for several PinPay servers behind one load balancer.

Same contract as `SqlCounters`; the session argument is unused. Failures are sorted sets of
timestamps trimmed to the window; a lockout is a key that expires by itself.
"""

import secrets
from datetime import datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.fraud.service import MAX_LOCKOUT, REPEAT_MEMORY, Key

PREFIX = "pinpay:lockout:"


class RedisCounters:
    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self.redis = redis
        # Several PinPay installations (or test runs) can share one Redis under other prefixes.
        self.prefix = prefix

    async def locked(self, session: AsyncSession, keys: list[Key], now: datetime) -> bool:
        # The key's own expiry ends a lockout; comparing `until` too keeps the injected clock
        # (tests, simulations) in charge, as it is for the SQL counters.
        values = await self.redis.mget([f"{self.prefix}lock:{k.hash}" for k in keys])
        return any(
            datetime.fromisoformat(v.decode() if isinstance(v, bytes) else v) > now
            for v in values
            if v
        )

    async def count_failure(
        self,
        session: AsyncSession,
        keys: list[Key],
        now: datetime,
    ) -> list[Key]:
        stamp = now.timestamp()
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            name = f"{self.prefix}fail:{key.hash}"
            pipe.zadd(name, {f"{stamp}:{secrets.token_hex(4)}": stamp})
            pipe.zremrangebyscore(name, 0, stamp - key.window.total_seconds())
            pipe.zcard(name)
            pipe.expire(name, int(key.window.total_seconds()) + 1)
        results = await pipe.execute()
        return [key for i, key in enumerate(keys) if results[i * 4 + 2] >= key.threshold]

    async def lock(self, session: AsyncSession, key: Key, now: datetime) -> tuple[int, datetime]:
        level_name = f"{self.prefix}level:{key.hash}"
        level = int(await self.redis.incr(level_name))
        lock_for = min(key.lock_for * 2 ** (level - 1), MAX_LOCKOUT)
        until = now + lock_for
        pipe = self.redis.pipeline(transaction=True)
        pipe.expire(level_name, int((lock_for + REPEAT_MEMORY).total_seconds()))
        pipe.set(
            f"{self.prefix}lock:{key.hash}",
            until.isoformat(),
            px=int(lock_for / timedelta(milliseconds=1)),
        )
        pipe.delete(f"{self.prefix}fail:{key.hash}")
        await pipe.execute()
        return level, until

    async def purge(self, session: AsyncSession, older_than: datetime) -> int:
        return 0  # Redis keys expire by themselves

    async def close(self) -> None:
        await self.redis.aclose()
