"""What the lockout guard adds to one PIN check, measured in-process on the benchmark database.

The same assignment (lock the payment, hold one PIN, authorize) runs in its own transaction with
`Guard.attempt` around it, and without; the two kinds alternate so that drift in the machine's
load falls on both alike. The figure is the difference of their medians. The guard's own part
(its keys' keyed hashes and the `locked` query) is also timed directly inside the guarded runs.
"""

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pinpay.config import Settings
from pinpay.fraud.service import Subject
from pinpay.kit import clock
from pinpay.merchants.models import Merchant
from pinpay.merchants.service import merchant_for_api_key
from pinpay.payments import assign, service, validation
from pinpay.payments.schemas import CreatePaymentRequest
from pinpay.runtime import Runtime


@dataclass(frozen=True)
class FraudCost:
    pairs: int
    guarded_median_us: float
    bare_median_us: float
    difference_us: float  # guarded - bare, medians
    guard_direct_median_us: float  # the guard's own entry, timed inside the guarded runs
    locked_query_median_us: float  # SqlCounters.locked alone, in an open transaction

    def as_dict(self) -> dict[str, float | int]:
        return {k: round(v, 1) if isinstance(v, float) else v for k, v in self.__dict__.items()}


async def _new_payments(runtime: Runtime, merchant: Merchant, count: int) -> list[str]:
    request = CreatePaymentRequest.model_validate(
        {
            "type": "PAYSAFECARD",
            "amount": "10.00",
            "currency": "EUR",
            "redirect": {
                "success_url": "https://shop.example/ok",
                "failure_url": "https://shop.example/ko",
            },
            "customer": {"id": "bench-fraud"},
        }
    )
    made = []
    async with runtime.transaction() as session:
        for _ in range(count):
            new = validation.new_payment(request, merchant)
            made.append((await service.create(session, merchant, new, None)).public_id)
    return made


async def measure(settings: Settings, api_key: str, pins: Iterator[str], pairs: int) -> FraudCost:
    runtime = Runtime.build(settings)
    try:
        async with runtime.transaction() as session:
            found = await merchant_for_api_key(session, api_key)
        if found is None:
            raise RuntimeError("the benchmark merchant's API key is unknown")
        merchant = found
        payment_ids = await _new_payments(runtime, merchant, 2 * pairs + 20)
        guarded: list[float] = []
        bare: list[float] = []
        guard_direct: list[float] = []

        async def one(payment_id: str, with_guard: bool) -> None:
            pin = next(pins)
            t0 = time.perf_counter()
            async with runtime.unit_of_work() as session:
                payment = await service.get(session, merchant, payment_id, lock=True)
                if with_guard:
                    subject = Subject(
                        merchant=merchant.mid,
                        payment=payment.public_id,
                        customer=payment.customer_id,
                        ip=payment.customer_ip,
                    )
                    g0 = time.perf_counter()
                    async with runtime.guard.attempt(session, subject):
                        guard_direct.append(time.perf_counter() - g0)
                        await assign.assign_pins(
                            session, runtime.keyring, payment, merchant, [pin], actor="bench"
                        )
                else:
                    await assign.assign_pins(
                        session, runtime.keyring, payment, merchant, [pin], actor="bench"
                    )
            (guarded if with_guard else bare).append(time.perf_counter() - t0)

        ids = iter(payment_ids)
        for _ in range(10):  # warm caches and the connection pool, not counted
            await one(next(ids), True)
            await one(next(ids), False)
        guarded.clear()
        bare.clear()
        guard_direct.clear()
        for i in range(pairs):
            first = i % 2 == 0  # alternate which kind goes first
            await one(next(ids), first)
            await one(next(ids), not first)

        # The `locked` query alone (what the guard asks the database on every attempt).
        locked: list[float] = []
        subject = Subject(merchant=merchant.mid, payment="pay_x", customer="bench-fraud")
        keys = runtime.guard.keys(subject)
        async with runtime.transaction() as session:
            for _ in range(pairs):
                t0 = time.perf_counter()
                await runtime.guard.counters.locked(session, keys, clock.now())
                locked.append(time.perf_counter() - t0)

        g, b = statistics.median(guarded) * 1e6, statistics.median(bare) * 1e6
        return FraudCost(
            pairs=pairs,
            guarded_median_us=g,
            bare_median_us=b,
            difference_us=g - b,
            guard_direct_median_us=statistics.median(guard_direct) * 1e6,
            locked_query_median_us=statistics.median(locked) * 1e6,
        )
    finally:
        await runtime.close()
