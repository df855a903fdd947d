"""Many clients at once through the real API: one PIN raced by twenty payments, capture racing
cancel, and Idempotency-Key under concurrent retries. On PostgreSQL the requests truly run in
parallel on their own connections; on SQLite BEGIN IMMEDIATE queues them (a smaller race)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text

from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.payments.models import CardAssignment, Payment
from pinpay.runtime import Runtime
from tests.api_client import Shop, basic, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.payments.helpers import (
    count,
    ledger_problems,
    new_payment,
    rejections,
    voucher_by_serial,
)

REFUSAL_CODE = "pin_not_accepted"


async def _peak_lock_waiters(runtime: Runtime, done: asyncio.Event) -> int:
    """Most of this database's sessions seen waiting on a row lock at once (PostgreSQL)."""
    peak = 0
    async with runtime.engine.connect() as connection:
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


async def _gather_watching_locks(
    runtime: Runtime, backend: str, calls: list[Any]
) -> tuple[list[httpx.Response], int]:
    done = asyncio.Event()
    monitor = (
        asyncio.create_task(_peak_lock_waiters(runtime, done)) if backend == "postgresql" else None
    )
    try:
        responses = list(await asyncio.gather(*calls))
    finally:
        done.set()
    return responses, (await monitor if monitor else 0)


async def test_one_pin_raced_by_many_payments(backend: str, runtime: Runtime, shop: Shop) -> None:
    clients = 20 if backend == "postgresql" else 8
    face = 700 * (clients - 6) + 200  # 7.00 each for all but six, 2.00 for one of them
    voucher = (await issue_vouchers(runtime, face_value=face)).vouchers[0]
    # A customer each, so that the losers' refusals never add up to a customer lockout.
    payments = [
        await new_payment(shop.client, "7.00", customer={"id": f"racer-{i}"})
        for i in range(clients)
    ]
    calls = [
        shop.client.post(f"/v1/payments/{p}/cards", json={"pins": [voucher.pin]}) for p in payments
    ]
    responses, peak = await _gather_watching_locks(runtime, backend, calls)
    assert all(r.status_code in (200, 400) for r in responses), [r.text for r in responses]
    won = [r.json() for r in responses if r.status_code == 200]
    lost = [r.json() for r in responses if r.status_code == 400]
    assert {body["code"] for body in lost} <= {REFUSAL_CODE}
    assert sorted(body["status"] for body in won) == ["AUTHORIZED"] * (clients - 6) + ["INITIATED"]
    assert [b["amount_missing"] for b in won if b["status"] == "INITIATED"] == [5.0]
    taken = round(sum(c["amount"] for body in won for c in body["card_details"]) * 100)
    stored = await voucher_by_serial(runtime, voucher.serial)
    assert (stored.remaining, stored.held, taken) == (0, face, face)
    async with runtime.transaction() as session:
        cards = await session.scalar(select(func.sum(CardAssignment.amount)))
    assert cards == face
    assert len(await rejections(runtime, "voucher.hold")) == len(lost) == 5
    assert await ledger_problems(runtime) == []
    if backend == "postgresql":
        assert peak >= 1, "no request ever waited on another: nothing was raced"


async def test_capture_races_cancel(backend: str, runtime: Runtime, shop: Shop) -> None:
    voucher = (await issue_vouchers(runtime, face_value=1000)).vouchers[0]
    payment_id = await new_payment(shop.client)
    assigned = await shop.client.post(
        f"/v1/payments/{payment_id}/cards", json={"pins": [voucher.pin]}
    )
    assert assigned.json()["status"] == "AUTHORIZED"
    calls = [
        shop.client.post(f"/v1/payments/{payment_id}/{'capture' if i % 2 else 'cancel'}")
        for i in range(10)
    ]
    responses, _ = await _gather_watching_locks(runtime, backend, calls)
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert all(
        r.status_code == 400 and r.json()["number"] == 2017
        for r in responses
        if r is not winners[0]
    )
    final = winners[0].json()["status"]
    stored = await voucher_by_serial(runtime, voucher.serial)
    expected = (0, 0, "DEPLETED") if final == "SUCCESS" else (1000, 0, "ACTIVE")
    assert (stored.remaining, stored.held, stored.status) == expected
    assert await ledger_problems(runtime) == []


async def test_concurrent_retries_with_one_key_create_one_payment(
    runtime: Runtime, shop: Shop
) -> None:
    headers = {"Idempotency-Key": "order-1001-attempt"}
    calls = [
        shop.client.post("/v1/payments", json=payment_body(), headers=headers) for _ in range(10)
    ]
    responses = await asyncio.gather(*calls)
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    assert await count(runtime, Payment) == 1


async def test_replay_returns_the_first_response(runtime: Runtime, shop: Shop) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
    assert first.status_code == 201
    payment_id = first.json()["id"]
    assert (await shop.client.post(f"/v1/payments/{payment_id}/cancel")).status_code == 200
    # Same meaning, other key order and spacing: still the same request.
    same = json.dumps(dict(reversed(list(payment_body().items()))), indent=2)
    replay = await shop.client.post(
        "/v1/payments", content=same, headers={**headers, "Content-Type": "application/json"}
    )
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay.json()["status"] == "INITIATED"
    assert replay.headers["Idempotent-Replayed"] == "true"
    reused = await shop.client.post("/v1/payments", json=payment_body("11.00"), headers=headers)
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    other = await create_merchant(runtime, "Other")
    theirs = await shop.client.post(
        "/v1/payments", json=payment_body(), headers={**headers, **basic(other.api_key)}
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != payment_id
    assert await count(runtime, Payment) == 2


async def test_a_refused_request_keeps_its_key(runtime: Runtime, shop: Shop) -> None:
    """The key remembers the refusal: the corrected request needs a key of its own."""
    headers = {"Idempotency-Key": "k-2"}
    bad = await shop.client.post("/v1/payments", json=payment_body("abc"), headers=headers)
    assert bad.status_code == 400 and bad.json()["param"] == "amount"
    same = await shop.client.post("/v1/payments", json=payment_body("abc"), headers=headers)
    assert (same.status_code, same.json()) == (400, bad.json())
    reused = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    good = await shop.client.post(
        "/v1/payments", json=payment_body(), headers={"Idempotency-Key": "k-2b"}
    )
    assert good.status_code == 201
    assert await count(runtime, Payment) == 1


async def test_retried_assign_and_capture_do_the_work_once(runtime: Runtime, shop: Shop) -> None:
    voucher = (await issue_vouchers(runtime, face_value=2500)).vouchers[0]
    payment_id = await new_payment(shop.client)
    cards = [
        shop.client.post(
            f"/v1/payments/{payment_id}/cards",
            json={"pins": [voucher.pin]},
            headers={"Idempotency-Key": "assign-1"},
        )
        for _ in range(5)
    ]
    assigned = await asyncio.gather(*cards)
    assert {(r.status_code, r.text) for r in assigned} == {(200, assigned[0].text)}
    stored = await voucher_by_serial(runtime, voucher.serial)
    assert (stored.remaining, stored.held) == (1500, 1000)
    captures = [
        shop.client.post(
            f"/v1/payments/{payment_id}/capture", headers={"Idempotency-Key": "capture-1"}
        )
        for _ in range(5)
    ]
    captured = await asyncio.gather(*captures)
    assert {(r.status_code, r.json()["status"]) for r in captured} == {(200, "SUCCESS")}
    stored = await voucher_by_serial(runtime, voucher.serial)
    assert (stored.remaining, stored.held) == (1500, 0)
    assert await ledger_problems(runtime) == []


async def test_key_is_free_again_after_24_hours(runtime: Runtime, shop: Shop) -> None:
    clock = FrozenClock(datetime.now(UTC))
    previous = use_clock(clock)
    try:
        headers = {"Idempotency-Key": "k-3"}
        first = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
        clock.advance(timedelta(hours=24) - timedelta(seconds=1))
        replay = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
        assert replay.json()["id"] == first.json()["id"]
        clock.advance(timedelta(seconds=1))
        fresh = await shop.client.post("/v1/payments", json=payment_body(), headers=headers)
        assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    finally:
        use_clock(previous)
    assert await count(runtime, Payment) == 2


async def test_a_refusal_is_replayed_for_its_key_even_after_the_state_moved_on(
    runtime: Runtime, shop: Shop
) -> None:
    created = await shop.client.post("/v1/payments", json=payment_body("10.00"))
    payment_id = created.json()["id"]
    headers = {"Idempotency-Key": "capture-too-early"}
    first = await shop.client.post(f"/v1/payments/{payment_id}/capture", headers=headers)
    assert (first.status_code, first.json()["number"]) == (400, 2017)
    again = await shop.client.post(f"/v1/payments/{payment_id}/capture", headers=headers)
    assert (again.status_code, again.json()) == (400, first.json())
    assert again.headers.get("Idempotent-Replayed") == "true"
