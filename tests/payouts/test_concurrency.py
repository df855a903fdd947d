"""Refunds and payouts racing for one merchant's payable through the real API. On PostgreSQL they
run in parallel and queue on the merchant row's lock; on SQLite BEGIN IMMEDIATE queues them. The
payable, a sum over the journal, must never go below zero nor a payment be over-refunded."""

import asyncio

from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.payments.helpers import update_merchant
from tests.refunds.helpers import (
    money_problems,
    open_account,
    paid_payment,
    payable,
    refund_body,
    wallet,
)


async def test_racing_refunds_and_payouts_never_overdraw(
    backend: str, runtime: Runtime, shop: Shop
) -> None:
    each = 5 if backend == "postgresql" else 3
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client, "10.00")
    await update_merchant(runtime, shop.mid, payout_daily_limit_minor=10**9)
    payout = {
        "type": "PAYSAFECARD",
        "capture": True,
        "amount": "3.00",
        "currency": "EUR",
        "customer": account.payout_customer("payee-1"),
    }
    calls = [
        shop.client.post(
            f"/v1/payments/{payment_id}/refunds", json=refund_body("3.00", email=account.email)
        )
        for _ in range(each)
    ] + [shop.client.post("/v1/payouts", json=payout) for _ in range(each)]
    responses = await asyncio.gather(*calls)
    won = [r for r in responses if r.status_code == 201]
    lost = [r for r in responses if r.status_code != 201]
    assert len(won) == 3, [r.text for r in responses]
    assert {(r.status_code, r.json()["code"]) for r in lost} <= {
        (400, "merchant_balance_insufficient"),
        (400, "refund_exceeds_payment"),
    }
    assert await payable(runtime, shop.mid) == 100
    assert await wallet(runtime, account.psc_id) == 900
    assert await money_problems(runtime) == []


async def test_racing_partial_refunds_stop_at_the_payment(
    backend: str, runtime: Runtime, shop: Shop
) -> None:
    clients = 10 if backend == "postgresql" else 4
    account = await open_account(runtime)
    await paid_payment(runtime, shop.client, "50.00", customer_id="someone")  # payable to spare
    payment_id = await paid_payment(runtime, shop.client, "10.00")
    responses = await asyncio.gather(
        *(
            shop.client.post(
                f"/v1/payments/{payment_id}/refunds",
                json=refund_body("4.00", psc_id=account.psc_id),
            )
            for _ in range(clients)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201] + [400] * (clients - 2)
    assert {r.json()["number"] for r in responses if r.status_code == 400} == {3179}
    assert await wallet(runtime, account.psc_id) == 800
    assert await money_problems(runtime) == []
