"""`pinpay worker`: the background duties, each a short transaction, safe to run in many copies.

Each duty returns how much it did; the loop sleeps only when a full round found nothing to do.
"""

import asyncio
from collections.abc import Awaitable, Callable

from pinpay.audit.chain import seal_pending
from pinpay.idempotency import service as idempotency
from pinpay.kit.log import log
from pinpay.merchants import signatures
from pinpay.notifications.delivery import deliver_due
from pinpay.payments import service as payments
from pinpay.runtime import Runtime

Duty = Callable[[Runtime], Awaitable[int]]


async def seal_audit_records(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await seal_pending(session, runtime.keyring, runtime.settings.audit_seal_batch)


async def expire_payments(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await payments.expire_due(session)


async def purge_idempotency_keys(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await idempotency.purge_expired(session)


async def purge_signature_nonces(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        return await signatures.purge_expired_nonces(session)


DUTIES: list[tuple[str, Duty]] = [
    ("expire_payments", expire_payments),
    ("deliver_notifications", deliver_due),
    ("seal_audit_records", seal_audit_records),
    ("purge_idempotency_keys", purge_idempotency_keys),
    ("purge_signature_nonces", purge_signature_nonces),
]


async def run_once(runtime: Runtime) -> dict[str, int]:
    done: dict[str, int] = {}
    for name, duty in DUTIES:
        try:
            done[name] = await duty(runtime)
        except Exception:  # one failing duty must not stop the others; it is retried next round
            log.exception("worker.duty_failed", duty=name)
            done[name] = 0
    return done


async def run_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    log.info("worker.started", duties=[name for name, _ in DUTIES])
    while not stop.is_set():
        done = await run_once(runtime)
        if not any(done.values()):
            try:
                await asyncio.wait_for(stop.wait(), runtime.settings.worker_poll_seconds)
            except TimeoutError:
                pass
    log.info("worker.stopped")
