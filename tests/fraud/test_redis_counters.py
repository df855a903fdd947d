"""The same lockouts with the counters in Redis (PINPAY_REDIS_URL), for several servers.

Uses database 15 of the Redis at 127.0.0.1:6379 under a key prefix of each test's own, removed
afterwards, so that runs on one machine do not disturb each other. Without a Redis these tests
are skipped; with CI=true a missing Redis fails them.

Redis expires a lockout by itself (a key with a TTL), in real time: the injectable clock moves
the failure window but not a Redis TTL, so the expiry tests use short lockouts and wait.
"""

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import func, select

from pinpay.fraud.models import Lockout, PinFailure
from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.factories import issue_vouchers
from tests.fraud.test_lockouts import (
    FACE,
    GENERIC,
    UNTOUCHED,
    WRONG_PIN,
    Env,
    Tune,
    assert_page_refused,
    assert_refused,
    audit_rows,
    new_customer,
    tuning,
    voucher_state,
)

REDIS_URL = "redis://127.0.0.1:6379/15"
PREFIX = f"pinpay:test:{os.getpid()}:{secrets.token_hex(4)}:"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        await client.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        await client.aclose()
        if IN_CI:
            pytest.fail(f"Redis is required in CI and unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    try:
        yield client
    finally:
        names = [name async for name in client.scan_iter(f"{PREFIX}*")]
        if names:
            await client.delete(*names)
        await client.aclose()


@pytest.fixture
async def tuned(runtime: Runtime, shop: Shop, redis: Redis) -> AsyncIterator[Tune]:
    async with tuning(runtime, shop) as make:
        yield make


async def redis_env(tuned: Tune, **update: object) -> Env:
    env = await tuned(redis_url=REDIS_URL, redis_key_prefix=PREFIX, **update)
    assert type(env.runtime.guard.counters).__name__ == "RedisCounters"
    return env


def lock_name(env: Env, kind: str, value: str) -> str:
    return f"{PREFIX}lock:{env.runtime.guard._hash(kind, value)}"


def level_name(env: Env, kind: str, value: str) -> str:
    return f"{PREFIX}level:{env.runtime.guard._hash(kind, value)}"


async def locked_keys(redis: Redis) -> set[str]:
    return {name.decode() async for name in redis.scan_iter(f"{PREFIX}lock:*")}


async def sql_counter_rows(runtime: Runtime) -> tuple[int, int]:
    async with runtime.transaction() as session:
        failures = await session.scalar(select(func.count()).select_from(PinFailure))
        locks = await session.scalar(select(func.count()).select_from(Lockout))
    return int(failures or 0), int(locks or 0)


async def wait_gone(redis: Redis, name: str, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while await redis.exists(name):
        assert time.monotonic() < deadline, f"{name} did not expire"
        await asyncio.sleep(0.05)


async def test_customer_lockout_with_redis_counters(
    runtime: Runtime, tuned: Tune, redis: Redis
) -> None:
    env = await redis_env(tuned)
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    customer = new_customer("cust")
    wrong = [await env.direct(customer, WRONG_PIN, ip=f"198.51.100.{i}") for i in range(5)]
    for response in wrong:
        assert_refused(response)
    customer_lock = lock_name(env, "customer", f"{env.mid}:{customer}")
    assert await locked_keys(redis) == {customer_lock}
    assert await redis.get(level_name(env, "customer", f"{env.mid}:{customer}")) == b"1"

    locked = await env.direct(customer, voucher.pin, ip="198.51.100.99")
    assert_refused(locked)
    assert locked.content == wrong[0].content
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED

    other = await env.direct(new_customer("other"), voucher.pin, ip="198.51.100.99")
    assert other.status_code == 200, other.text
    # The counters live in Redis only; the audit trail is in the database as always.
    assert await sql_counter_rows(runtime) == (0, 0)
    [lock] = await audit_rows(runtime, action="fraud.lockout")
    assert (lock.reason, (lock.details or {})["kind"]) == ("customer_locked", "customer")
    [refused] = await audit_rows(runtime, reason="locked_out")
    assert (refused.action, refused.customer_id) == ("voucher.pin_entry", None)


@pytest.mark.parametrize("common", ["ip", "device"])
async def test_page_ip_and_device_lockouts_with_redis_counters(
    runtime: Runtime, tuned: Tune, redis: Redis, common: str
) -> None:
    env = await redis_env(tuned)
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    ip, device = "203.0.113.7", "dev-" + secrets.token_hex(12)

    def where(i: int) -> tuple[str, str | None]:
        """(IP, device) of attempt i: only the key under test is the same every time."""
        return (ip, None) if common == "ip" else (f"192.0.2.{i}", device)

    wrong = [await env.page(new_customer("c"), WRONG_PIN, *where(i)) for i in range(5)]
    for answer in wrong:
        assert_page_refused(answer)
    assert await locked_keys(redis) == {lock_name(env, common, ip if common == "ip" else device)}

    locked = await env.page(new_customer("c"), voucher.pin, *where(5))
    assert_page_refused(locked)
    assert locked.normalized() == wrong[0].normalized()
    assert await voucher_state(runtime, voucher.serial) == UNTOUCHED

    # Nothing in Redis names the IP, the device or a customer in clear: keys nor values.
    names = [name async for name in redis.scan_iter(f"{PREFIX}*")]
    assert names
    for name in names:
        kind = (await redis.type(name)).decode()
        values = (
            [m for m, _ in await redis.zrange(name, 0, -1, withscores=True)]
            if kind == "zset"
            else [await redis.get(name)]
        )
        for text in [name, *values]:
            assert ip.encode() not in text and device.encode() not in text
            assert b"c-" not in text  # customer ids here all start with "c-"

    fresh = await env.page(new_customer("c"), voucher.pin, "198.51.100.200")
    assert fresh.response.status_code == 303, fresh.response.text


async def test_redis_lockout_expires_and_a_repeat_lasts_twice_as_long(
    runtime: Runtime, tuned: Tune, redis: Redis
) -> None:
    env = await redis_env(tuned, lockout_seconds=2)
    vouchers = (await issue_vouchers(runtime, count=2, face_value=FACE)).vouchers
    customer = new_customer("cust")
    name = lock_name(env, "customer", f"{env.mid}:{customer}")
    ips = iter(f"198.51.100.{i}" for i in range(1, 200))

    async def five_wrong() -> float:
        for _ in range(5):
            assert_refused(await env.direct(customer, WRONG_PIN, ip=next(ips)))
        return time.monotonic()

    await five_wrong()
    assert 0 < await redis.pttl(name) <= 2000
    assert_refused(await env.direct(customer, vouchers[0].pin, ip=next(ips)))
    await wait_gone(redis, name)
    assert (await env.direct(customer, vouchers[0].pin, ip=next(ips))).status_code == 200

    locked_at = await five_wrong()
    assert await redis.get(level_name(env, "customer", f"{env.mid}:{customer}")) == b"2"
    assert 2000 < await redis.pttl(name) <= 4000
    # Past the first lockout's length: still locked.
    await asyncio.sleep(max(0.0, 2.3 - (time.monotonic() - locked_at)))
    assert_refused(await env.direct(customer, vouchers[1].pin, ip=next(ips)))
    assert await voucher_state(runtime, vouchers[1].serial) == UNTOUCHED
    await wait_gone(redis, name)
    assert (await env.direct(customer, vouchers[1].pin, ip=next(ips))).status_code == 200
    levels = [(r.details or {})["level"] for r in await audit_rows(runtime, action="fraud.lockout")]
    assert levels == [1, 2]


async def test_global_tripwire_with_redis_counters(
    runtime: Runtime, tuned: Tune, redis: Redis
) -> None:
    env = await redis_env(tuned, global_wrong_pins_per_minute=3, global_pause_seconds=1)
    voucher = (await issue_vouchers(runtime, count=1, face_value=FACE)).vouchers[0]
    for i in range(3):
        assert_refused(await env.direct(new_customer("c"), WRONG_PIN, ip=f"198.51.100.{i}"))
    name = lock_name(env, "global", "*")
    assert await locked_keys(redis) == {name}
    assert_refused(await env.direct(new_customer("a"), voucher.pin, ip="203.0.113.1"))
    paused = await env.page(new_customer("b"), voucher.pin, "203.0.113.2")
    assert paused.error == GENERIC
    await wait_gone(redis, name)
    resumed = await env.direct(new_customer("a"), voucher.pin, ip="203.0.113.1")
    assert resumed.status_code == 200, resumed.text
