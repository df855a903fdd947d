"""Object-level authorization: merchant B never reaches merchant A's payments, refunds, payouts
or notifications, whatever the route and however B authenticates.

The cases are derived from the app's own OpenAPI document: every route with a path parameter is
called as B with A's real ids, so a new /v1 route with a path parameter is covered the day it is
added, and a path parameter this file does not know fails the test until it is mapped here."""

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from pinpay.app import create_app
from pinpay.audit.models import AuditRecord
from pinpay.models import Base
from pinpay.notifications.delivery import deliver_due
from pinpay.runtime import Runtime
from tests.api_client import basic, payment_body
from tests.factories import create_merchant, issue_vouchers
from tests.oauth.helpers import access_token, bearer, new_client
from tests.payments.helpers import assign, new_payment
from tests.payouts.test_payouts import payout_body
from tests.refunds.helpers import (
    money_problems,
    open_account,
    paid_payment,
    refund_body,
    wallet,
)

PATH_PARAMETER = re.compile(r"{([^}]+)}")
# Path parameters that name an object of one merchant: B given A's must get "not found".
OBJECT_PARAMETERS = frozenset({"payment_id", "refund_id", "payout_id", "notification_id"})
# Path parameters that scope a route to the caller's own data (B's payout limits in EUR): B gets
# its own answer, which must show nothing of A's.
OWN_SCOPE_PARAMETERS = frozenset({"currency"})
# Every row of these tables must be byte-for-byte the same after B's calls.
WATCHED_TABLES = (
    "payment",
    "payment_card",
    "payment_wallet",
    "refund",
    "payout",
    "payout_binding",
    "outbox_event",
    "webhook_attempt",
    "voucher",
    "wallet_balance",
    "journal_entry",
    "journal_line",
    "idempotency_key",
    "customer_account",
)


@dataclass
class MerchantA:
    mid: str
    headers: dict[str, str]
    psc_id: str
    captured: str
    authorized: str
    initiated: str
    refund_id: str
    payout_id: str
    notifications: dict[str, str]  # payment id -> one of its notification ids
    serials: list[str]


def _operations(app: Any) -> list[tuple[str, str, list[str], set[str]]]:
    """(method, path, path parameters, documented status codes) of every operation."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            if names or PATH_PARAMETER.search(path):
                found.append((method.upper(), path, names, set(operation.get("responses", {}))))
    return found


def _hidden_v1_routes(app: Any) -> list[str]:
    """/v1 routes with a path parameter that the OpenAPI document does not show (and so would
    escape the cases derived from it)."""
    documented = set(app.openapi()["paths"])
    return [
        f"{sorted(route.methods)} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/v1")
        and PATH_PARAMETER.search(route.path)
        and route.path not in documented
    ]


def _client(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.AsyncClient:
    """A second client of the same app as `api`, sending `headers` on every call."""
    transport = httpx.ASGITransport(app=api._transport.app)  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url=api.base_url, headers=headers)


async def _merchant_a(runtime: Runtime, api: httpx.AsyncClient) -> MerchantA:
    created = await create_merchant(runtime, name="Shop A")
    headers = basic(created.api_key)
    async with _client(api, headers) as client:
        account = await open_account(runtime, email="a-customer@example.org")
        runtime.http_transport = httpx.MockTransport(lambda request: httpx.Response(200))
        runtime.settings.webhook_allow_private = True
        captured = await paid_payment(runtime, client, "50.00")
        refunded = await client.post(
            f"/v1/payments/{captured}/refunds",
            json=refund_body("5.00", capture=False, psc_id=account.psc_id),
        )
        assert refunded.status_code == 201, refunded.text
        assert refunded.json()["status"] == "VALIDATION_SUCCESSFUL"
        paid_out = await client.post(
            "/v1/payouts", json=payout_body(account, "7.00", capture=False)
        )
        assert paid_out.status_code == 201, paid_out.text
        assert paid_out.json()["status"] == "VALIDATION_SUCCESSFUL"

        authorized = await new_payment(client, "10.00")
        pins = (await issue_vouchers(runtime, face_value=2500)).vouchers
        await assign(client, authorized, pins[0].pin)
        initiated = await new_payment(client, "10.00")
        for _ in range(10):  # one batch per payment and event kind at most
            if not await deliver_due(runtime):
                break

        notifications = {}
        for payment_id in (captured, authorized):
            listed = await client.get(f"/v1/payments/{payment_id}/notifications")
            assert listed.status_code == 200, listed.text
            events = listed.json()["data"]
            assert events and all(e["status"] == "DELIVERED" for e in events), events
            notifications[payment_id] = events[0]["id"]
        serials = [
            card["serial"]
            for payment_id in (captured, authorized)
            for card in (await client.get(f"/v1/payments/{payment_id}")).json()["card_details"]
        ]
    return MerchantA(
        created.merchant.mid,
        headers,
        account.psc_id,
        captured,
        authorized,
        initiated,
        str(refunded.json()["id"]),
        str(paid_out.json()["id"]),
        notifications,
        serials,
    )


def _scenarios(a: MerchantA) -> list[dict[str, str]]:
    """A's ids by path parameter: each of A's payments in a different state, so that a hole in
    capture, cancel or card assignment would show as a change, not only as a non-404."""
    common = {"refund_id": a.refund_id, "payout_id": a.payout_id, "currency": "EUR"}
    return [
        {**common, "payment_id": a.captured, "notification_id": a.notifications[a.captured]},
        {**common, "payment_id": a.authorized, "notification_id": a.notifications[a.authorized]},
        {**common, "payment_id": a.initiated, "notification_id": a.notifications[a.captured]},
    ]


def _body(method: str, path: str, a: MerchantA, b_pin: str) -> dict[str, Any] | None:
    """What B would send if it meant business: its own PIN, a refund to A's customer."""
    if method != "POST":
        return None
    if path.endswith("/cards"):
        return {"pins": [b_pin]}
    if path.endswith("/refunds"):
        return refund_body("1.00", capture=True, psc_id=a.psc_id)
    return {}


async def _snapshot(runtime: Runtime) -> dict[str, list[str]]:
    tables = {table.name: table for table in Base.metadata.sorted_tables}
    rows: dict[str, list[str]] = {}
    async with runtime.transaction() as session:
        for name in WATCHED_TABLES:
            result = await session.execute(select(tables[name]).order_by(*tables[name].primary_key))
            rows[name] = [repr(tuple(row)) for row in result.all()]
    return rows


async def _a_seen_by_a(api: httpx.AsyncClient, a: MerchantA) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for payment_id in (a.captured, a.authorized, a.initiated):
        seen[payment_id] = (await api.get(f"/v1/payments/{payment_id}", headers=a.headers)).json()
        listed = await api.get(f"/v1/payments/{payment_id}/notifications", headers=a.headers)
        seen[f"{payment_id}/notifications"] = listed.json()
    refund_path = f"/v1/payments/{a.captured}/refunds/{a.refund_id}"
    seen[a.refund_id] = (await api.get(refund_path, headers=a.headers)).json()
    seen[a.payout_id] = (await api.get(f"/v1/payouts/{a.payout_id}", headers=a.headers)).json()
    return seen


async def _resends(runtime: Runtime) -> int:
    async with runtime.transaction() as session:
        query = select(func.count()).where(AuditRecord.action == "notification.resend")
        return int(await session.scalar(query.select_from(AuditRecord)) or 0)


@pytest.mark.parametrize("auth", ["basic", "bearer"])
async def test_another_merchants_objects_are_not_found_on_every_route(
    runtime: Runtime, api: httpx.AsyncClient, auth: str
) -> None:
    app = create_app(runtime.settings, runtime)
    hidden = _hidden_v1_routes(app)
    assert not hidden, f"/v1 routes with path parameters missing from OpenAPI: {hidden}"
    operations = _operations(app)
    unknown = sorted(
        f"{method} {path}: {{{name}}}"
        for method, path, names, _ in operations
        for name in names
        if name not in OBJECT_PARAMETERS | OWN_SCOPE_PARAMETERS
    )
    assert not unknown, (
        "path parameters this test does not know: map each to the object of merchant A it "
        f"names in OBJECT_PARAMETERS/_scenarios (or to OWN_SCOPE_PARAMETERS): {unknown}"
    )

    a = await _merchant_a(runtime, api)
    b = await create_merchant(runtime, name="Shop B")
    b_pin = (await issue_vouchers(runtime, face_value=2500)).vouchers[0].pin
    if auth == "basic":
        b_headers = basic(b.api_key)
    else:
        b_client = await new_client(runtime, b.merchant.mid)
        b_headers = bearer(await access_token(api, b_client))
    made = await api.post("/v1/payments", json=payment_body("3.00"), headers=b_headers)
    assert made.status_code == 201, made.text
    b_payment = made.json()["id"]

    # Positive control: A's ids are real, A reads every one of them (the refund is of the
    # captured payment, the first scenario).
    for method, path, _, _ in operations:
        if method == "GET":
            own = await api.get(path.format(**_scenarios(a)[0]), headers=a.headers)
            assert own.status_code == 200, (path, own.text)

    before_rows = await _snapshot(runtime)
    before_api = await _a_seen_by_a(api, a)
    before_wallet = await wallet(runtime, a.psc_id)
    before_resends = await _resends(runtime)

    holes: list[str] = []
    cases = 0
    for scenario in _scenarios(a):
        for method, path, names, documented in operations:
            url = path.format(**scenario)
            answer = await api.request(
                method, url, json=_body(method, path, a, b_pin), headers=b_headers
            )
            cases += 1
            text = answer.text
            leaked = [value for value in (a.captured, a.authorized, a.initiated) if value in text]
            leaked += [v for v in (a.refund_id, a.payout_id, a.psc_id, *a.serials) if v in text]
            if OBJECT_PARAMETERS & set(names):
                expected = 404 if "404" in documented else None
                if answer.status_code != expected or leaked:
                    holes.append(f"{auth} {method} {url} -> {answer.status_code} {text[:300]}")
                elif answer.json().get("code") is None:
                    holes.append(f"{auth} {method} {url}: 404 without an error code: {text}")
            else:  # scoped to B's own data: B's answer, nothing of A's in it
                if answer.status_code != 200 or leaked:
                    holes.append(f"{auth} {method} {url} -> {answer.status_code} {text[:300]}")
                elif path == "/v1/payouts/limits/{currency}":
                    if answer.json()["paid_out_today"] != 0:
                        holes.append(f"{auth} B's payout limits count A's payouts: {text}")
    assert not holes, "merchant B reached merchant A's objects:\n" + "\n".join(holes)
    assert cases == len(operations) * len(_scenarios(a))

    # B's list never shows A's payments, whatever the filter or cursor.
    queries: list[dict[str, Any]] = [{"limit": 100}]
    queries += [{"limit": 100, "status": s} for s in ("INITIATED", "AUTHORIZED", "SUCCESS")]
    queries += [{"limit": 100, "starting_after": p} for p in (a.captured, a.initiated)]
    for params in queries:
        listed = await api.get("/v1/payments", params=params, headers=b_headers)
        text = listed.text
        assert not any(p in text for p in (a.captured, a.authorized, a.initiated)), (params, text)
        if listed.status_code == 200 and "starting_after" not in params:
            ids = [payment["id"] for payment in listed.json()["data"]]
            assert ids == ([b_payment] if params.get("status") in (None, "INITIATED") else [])

    # A's objects are untouched: rows, what A sees, money.
    assert await _snapshot(runtime) == before_rows
    assert await _a_seen_by_a(api, a) == before_api
    assert before_api[a.captured]["status"] == "SUCCESS"
    assert before_api[a.authorized]["status"] == "AUTHORIZED"
    assert before_api[a.initiated]["status"] == "INITIATED"
    assert before_api[a.refund_id]["status"] == "VALIDATION_SUCCESSFUL"
    assert before_api[a.payout_id]["status"] == "VALIDATION_SUCCESSFUL"
    assert await wallet(runtime, a.psc_id) == before_wallet == 0
    assert await _resends(runtime) == before_resends
    assert await money_problems(runtime) == []
