"""GET /v1/payments (ext): newest first, cursor pagination with `limit` and `starting_after`,
`has_more`, and the `status`, `created_from` and `created_to` filters (Unix ms, inclusive)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pinpay.kit.clock import FrozenClock, use_clock
from pinpay.runtime import Runtime
from tests.api_client import Shop
from tests.factories import issue_vouchers
from tests.payments.helpers import assign, ledger_problems, new_payment


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    # Sub-millisecond digits on purpose: `created` is truncated to milliseconds on the wire.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=123_456))
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


async def _list(shop: Shop, **params: Any) -> tuple[list[str], bool]:
    response = await shop.client.get("/v1/payments", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return [p["id"] for p in body["data"]], body["has_more"]


async def _payments(shop: Shop, frozen: FrozenClock, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        ids.append(await new_payment(shop.client))
        frozen.advance(timedelta(seconds=1))
    return ids


async def test_cursor_pagination_newest_first(frozen: FrozenClock, shop: Shop) -> None:
    p = await _payments(shop, frozen, 5)
    assert await _list(shop, limit=2) == ([p[4], p[3]], True)
    assert await _list(shop, limit=2, starting_after=p[3]) == ([p[2], p[1]], True)
    assert await _list(shop, limit=2, starting_after=p[1]) == ([p[0]], False)
    assert await _list(shop, limit=2, starting_after=p[0]) == ([], False)
    assert await _list(shop, limit=5) == (p[::-1], False)
    assert await _list(shop, limit=4) == (p[:0:-1], True)
    assert await _list(shop) == (p[::-1], False)
    listed = (await shop.client.get("/v1/payments", params={"limit": 1})).json()["data"][0]
    assert listed == (await shop.client.get(f"/v1/payments/{p[4]}")).json()


async def test_status_and_created_filters(
    frozen: FrozenClock, runtime: Runtime, shop: Shop
) -> None:
    pins = [v.pin for v in (await issue_vouchers(runtime, count=2, face_value=1000)).vouchers]
    p = await _payments(shop, frozen, 5)
    await assign(shop.client, p[1], pins[0])  # AUTHORIZED
    await assign(shop.client, p[2], pins[1])
    assert (await shop.client.post(f"/v1/payments/{p[2]}/capture")).status_code == 200
    assert (await shop.client.post(f"/v1/payments/{p[3]}/cancel")).status_code == 200
    created = {pid: (await shop.client.get(f"/v1/payments/{pid}")).json()["created"] for pid in p}
    assert await _list(shop, status="SUCCESS") == ([p[2]], False)
    assert await _list(shop, status="AUTHORIZED") == ([p[1]], False)
    assert await _list(shop, status="CANCELED_MERCHANT") == ([p[3]], False)
    assert await _list(shop, status="EXPIRED") == ([], False)
    assert await _list(shop, status="INITIATED", limit=1) == ([p[4]], True)
    assert await _list(shop, status="INITIATED", limit=1, starting_after=p[4]) == ([p[0]], False)
    # Both bounds are inclusive at the millisecond a payment reports as its `created`.
    assert await _list(shop, created_from=created[p[1]], created_to=created[p[3]]) == (
        [p[3], p[2], p[1]],
        False,
    )
    assert await _list(shop, created_from=created[p[2]], created_to=created[p[2]]) == (
        [p[2]],
        False,
    )
    assert await _list(shop, created_from=created[p[3]] + 1) == ([p[4]], False)
    assert await _list(shop, created_to=created[p[1]] - 1) == ([p[0]], False)
    assert await _list(shop, status="SUCCESS", created_to=created[p[1]]) == ([], False)
    assert await _list(shop, created_from=created[p[0]], limit=2, starting_after=p[3]) == (
        [p[2], p[1]],
        True,
    )
    assert await ledger_problems(runtime) == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "PAID"}, "status"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_to": 10**20}, "created_to"),
    ],
)
async def test_bad_list_parameters_are_10028(
    shop: Shop, params: dict[str, Any], param: str
) -> None:
    response = await shop.client.get("/v1/payments", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["code"], body["number"], body["param"]) == (
        "invalid_request_parameter",
        10028,
        param,
    )


async def test_empty_filters_and_largest_page_are_accepted(shop: Shop) -> None:
    payment_id = await new_payment(shop.client)
    assert await _list(shop, status="", starting_after="", limit=100) == ([payment_id], False)


async def test_unknown_cursor_is_2002(shop: Shop) -> None:
    response = await shop.client.get(
        "/v1/payments", params={"starting_after": f"pay_{shop.mid}_{'x' * 32}_EUR"}
    )
    assert response.status_code == 404 and response.json()["number"] == 2002
