"""Payouts to a customer account (API.md 5): the holder's details checked (3195), the customer
id bound to the account by the first payout (3197/3198), the merchant's daily limit (3166) and
payable, validation then capture, isolation, Idempotency-Key. The ledger is verified after each."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pinpay.kit.clock import FrozenClock, unix_ms
from pinpay.runtime import Runtime
from tests.api_client import Shop, basic
from tests.factories import create_merchant
from tests.payments.helpers import update_merchant
from tests.refunds.helpers import (
    CUSTOMER,
    Account,
    audit_records,
    error_of,
    events,
    money_problems,
    open_account,
    paid_payment,
    payable,
    stored_text,
    wallet,
)

PAYOUT_ID = re.compile(r"^out_(\d{10})_[A-Za-z0-9]{32}_EUR$")


def payout_body(
    account: Account, amount: object = "20.00", *, capture: object = True, **customer: Any
) -> dict[str, Any]:
    return {
        "type": "PAYSAFECARD",
        "capture": capture,
        "amount": amount,
        "currency": "EUR",
        "customer": account.payout_customer(**customer),
        # A merchant that wants PAYOUT_SUCCEEDED names where (no URL, no notification).
        "notification_url": "https://shop.example/payouts",
    }


async def payout(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    status: int = 201,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post("/v1/payouts", json=body, headers=headers)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _funded(runtime: Runtime, shop: Shop, amount: str = "100.00") -> None:
    """The merchant is owed `amount`: a customer paid it."""
    await paid_payment(runtime, shop.client, amount, customer_id="buyer-1")


async def test_a_captured_payout_credits_the_account(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    body = await payout(shop.client, {**payout_body(account, "20.00"), "comment": "winnings"})
    match = PAYOUT_ID.match(body["id"])
    assert match and match.group(1) == shop.mid
    assert body["object"] == "PAYOUT"
    assert (body["status"], body["amount"], body["currency"]) == ("SUCCESS", 20.0, "EUR")
    assert body["customer"] == {"id": CUSTOMER, "email": account.email}
    assert body["comment"] == "winnings"
    assert await wallet(runtime, account.psc_id) == 2000
    assert await payable(runtime, shop.mid) == 8000
    got = await shop.client.get(f"/v1/payouts/{body['id']}")
    assert got.status_code == 200
    assert got.json() == {**body, "customer": {"id": CUSTOMER}}
    [event] = await events(runtime, "PAYOUT_SUCCEEDED")
    assert event.payload["data"]["payout_id"] == body["id"]
    assert event.payload["data"]["customer"] == {"id": CUSTOMER}
    assert [r.subject for r in await audit_records(runtime, "payout.capture")] == [body["id"]]
    assert len(await audit_records(runtime, "payout.bind")) == 1
    # Names and birth date were compared with the sealed ones, never stored.
    everything = await stored_text(runtime)
    assert "Alice" not in everything and "1990-01-31" not in everything
    assert account.email not in everything
    assert await money_problems(runtime) == []


async def test_by_psc_id_and_loose_form(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    body = payout_body(account, 5, capture="TRUE", email="", psc_id=account.psc_id)
    body["unknown"] = [1, 2]
    answer = await payout(shop.client, body)
    assert answer["customer"] == {"id": CUSTOMER, "psc_id": account.psc_id}
    assert answer["status"] == "SUCCESS"
    assert await wallet(runtime, account.psc_id) == 500


async def test_validation_only_then_capture(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    validated = await payout(shop.client, payout_body(account, "15.00", capture=False))
    assert validated["status"] == "VALIDATION_SUCCESSFUL"
    assert await wallet(runtime, account.psc_id) == 0
    assert await payable(runtime, shop.mid) == 10000
    assert await audit_records(runtime, "payout.bind") == []
    captured = await shop.client.post(f"/v1/payouts/{validated['id']}/capture", json={})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "SUCCESS"
    assert await wallet(runtime, account.psc_id) == 1500
    again = await shop.client.post(f"/v1/payouts/{validated['id']}/capture")
    assert again.status_code == 400
    assert error_of(again.json()) == ("transaction_invalid_state", 2017)
    assert await wallet(runtime, account.psc_id) == 1500
    assert await money_problems(runtime) == []


async def test_the_holders_details_must_match_3195(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    for wrong in (
        {"first_name": "Alicia"},
        {"last_name": "Smyth"},
        {"date_of_birth": "1990-01-30"},
    ):
        for capture in (True, False):
            answer = await payout(shop.client, payout_body(account, capture=capture, **wrong), 400)
            assert error_of(answer) == ("customer_details_mismatch", 3195), wrong
    # Case and spacing are how people type, not who they are.
    answer = await payout(
        shop.client, payout_body(account, "1.00", first_name="  ALICE ", last_name="smith")
    )
    assert answer["status"] == "SUCCESS"
    refused = await audit_records(runtime, "payout.create", "rejected")
    assert [r.reason for r in refused] == ["customer_details_mismatch"] * 6
    assert await wallet(runtime, account.psc_id) == 100
    assert await money_problems(runtime) == []


async def test_the_first_payout_binds_customer_id_and_account(runtime: Runtime, shop: Shop) -> None:
    alice = await open_account(runtime)
    bob = await open_account(runtime, "bob@example.org", "Bob", "Jones", "1980-05-05")
    await _funded(runtime, shop)
    # A validation binds nothing: Alice's account could still go to any customer id.
    await payout(shop.client, payout_body(alice, "1.00", capture=False, customer_id="c-other"))
    await payout(shop.client, payout_body(alice, "1.00", customer_id="c-alice"))
    again = await payout(shop.client, payout_body(alice, "1.00", customer_id="c-alice"))
    assert again["status"] == "SUCCESS"
    account_taken = await payout(shop.client, payout_body(alice, customer_id="c-other"), 400)
    assert error_of(account_taken) == ("account_bound_to_other_customer_id", 3197)
    id_taken = await payout(shop.client, payout_body(bob, customer_id="c-alice"), 400)
    assert error_of(id_taken) == ("customer_id_bound_to_other_account", 3198)
    # Validations are refused the same way.
    validation = await payout(
        shop.client, payout_body(bob, capture=False, customer_id="c-alice"), 400
    )
    assert error_of(validation) == ("customer_id_bound_to_other_account", 3198)
    assert (await payout(shop.client, payout_body(bob, "1.00", customer_id="c-bob")))[
        "status"
    ] == "SUCCESS"
    assert len(await audit_records(runtime, "payout.bind")) == 2
    assert await wallet(runtime, alice.psc_id) == 200
    assert await wallet(runtime, bob.psc_id) == 100
    assert await money_problems(runtime) == []


async def test_bindings_belong_to_one_merchant(runtime: Runtime, shop: Shop) -> None:
    alice = await open_account(runtime)
    await _funded(runtime, shop)
    await payout(shop.client, payout_body(alice, "1.00", customer_id="c-alice"))
    other = await create_merchant(runtime, "Other Shop")
    as_other = basic(other.api_key)
    shop.client.headers.update(as_other)
    await paid_payment(runtime, shop.client, "10.00")
    answer = await payout(shop.client, payout_body(alice, "1.00", customer_id="their-id"))
    assert answer["status"] == "SUCCESS"
    assert await wallet(runtime, alice.psc_id) == 200
    assert await money_problems(runtime) == []


async def test_the_daily_limit_3166(runtime: Runtime, shop: Shop, frozen: FrozenClock) -> None:
    frozen.advance(timedelta(hours=1))
    account = await open_account(runtime)
    await _funded(runtime, shop, "500.00")
    await update_merchant(runtime, shop.mid, payout_daily_limit_minor=3000)
    limits = await shop.client.get("/v1/payouts/limits/EUR")
    assert limits.status_code == 200, limits.text
    midnight = datetime.combine(frozen.now().date() + timedelta(days=1), datetime.min.time(), UTC)
    assert limits.json() == {
        "object": "PAYOUT_LIMITS",
        "currency": "EUR",
        "daily_limit": 30.0,
        "paid_out_today": 0.0,
        "left_today": 30.0,
        "resets": unix_ms(midnight),
    }
    await payout(shop.client, payout_body(account, "20.00"))
    # A validation counts nothing, and may not exceed what is left either.
    await payout(shop.client, payout_body(account, "10.00", capture=False))
    over = await payout(shop.client, payout_body(account, "10.01"), 400)
    assert error_of(over) == ("merchant_limit_exceeded", 3166)
    over = await payout(shop.client, payout_body(account, "10.01", capture=False), 400)
    assert error_of(over) == ("merchant_limit_exceeded", 3166)
    left = (await shop.client.get("/v1/payouts/limits/eur")).json()
    assert (left["paid_out_today"], left["left_today"]) == (20.0, 10.0)
    await payout(shop.client, payout_body(account, "10.00"))
    assert (await shop.client.get("/v1/payouts/limits/EUR")).json()["left_today"] == 0.0
    # A validated payout is checked again at capture: the day's limit is used up now.
    validated = await payout(shop.client, payout_body(account, "0.01", capture=False), 400)
    assert error_of(validated) == ("merchant_limit_exceeded", 3166)
    # The next UTC day starts afresh.
    frozen.advance(midnight - frozen.now())
    assert (await shop.client.get("/v1/payouts/limits/EUR")).json()["left_today"] == 30.0
    await payout(shop.client, payout_body(account, "30.00"))
    assert await wallet(runtime, account.psc_id) == 6000
    assert await money_problems(runtime) == []


async def test_a_validated_payout_over_the_limit_at_capture(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    await update_merchant(runtime, shop.mid, payout_daily_limit_minor=1000)
    first = await payout(shop.client, payout_body(account, "6.00", capture=False))
    second = await payout(shop.client, payout_body(account, "6.00", capture=False))
    assert (await shop.client.post(f"/v1/payouts/{first['id']}/capture")).status_code == 200
    late = await shop.client.post(f"/v1/payouts/{second['id']}/capture")
    assert error_of(late.json()) == ("merchant_limit_exceeded", 3166)
    assert (await shop.client.get(f"/v1/payouts/{second['id']}")).json()["status"] == (
        "VALIDATION_SUCCESSFUL"
    )
    assert await wallet(runtime, account.psc_id) == 600


async def test_never_more_than_the_merchant_is_owed(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    nothing = await payout(shop.client, payout_body(account, "0.01"), 400)
    assert error_of(nothing) == ("merchant_balance_insufficient", None)
    await _funded(runtime, shop, "10.00")
    over = await payout(shop.client, payout_body(account, "10.01"), 400)
    assert error_of(over) == ("merchant_balance_insufficient", None)
    await payout(shop.client, payout_body(account, "10.00"))
    assert await payable(runtime, shop.mid) == 0
    empty = await payout(shop.client, payout_body(account, "0.01", capture=False), 400)
    assert error_of(empty) == ("merchant_balance_insufficient", None)
    assert await money_problems(runtime) == []


async def test_unknown_account_3162(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    for customer in ({"email": "nobody@example.org"}, {"email": None, "psc_id": "psc_nope"}):
        answer = await payout(shop.client, payout_body(account, **customer), 400)
        assert error_of(answer) == ("customer_account_not_found", 3162)
    assert await wallet(runtime, account.psc_id) == 0


async def test_request_validation(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    cases: list[tuple[dict[str, Any], tuple[str, int | None], str | None]] = [
        (payout_body(account, "0"), ("invalid_amount", 2029), "amount"),
        (payout_body(account, "1.234"), ("invalid_request_parameter", 10028), "amount"),
        ({**payout_body(account), "currency": "USD"}, ("currency_not_supported", 2010), None),
        ({**payout_body(account), "currency": "E1"}, ("invalid_request_parameter", 10028), None),
        ({**payout_body(account), "type": ""}, ("invalid_request_parameter", 10028), "type"),
        (payout_body(account, id=""), ("customer_id_missing", 3017), "customer.id"),
        (payout_body(account, id="10.0.0.1"), ("invalid_customer_id", 3019), "customer.id"),
        (
            payout_body(account, first_name=""),
            ("invalid_request_parameter", 10028),
            "customer.first_name",
        ),
        (
            payout_body(account, last_name=None),
            ("invalid_request_parameter", 10028),
            "customer.last_name",
        ),
        (
            payout_body(account, date_of_birth="31.01.1990"),
            ("invalid_request_parameter", 10028),
            "customer.date_of_birth",
        ),
        (
            payout_body(account, date_of_birth="1990-02-30"),
            ("invalid_request_parameter", 10028),
            "customer.date_of_birth",
        ),
        (
            payout_body(account, email=None),
            ("invalid_request_parameter", 10028),
            "customer.email",
        ),
        (
            {**payout_body(account), "notification_url": "ftp://x"},
            ("invalid_request_parameter", 10028),
            "notification_url",
        ),
    ]
    for body, error, param in cases:
        answer = await payout(shop.client, body, 400)
        assert error_of(answer) == error, body
        if param:
            assert answer["param"] == param, body
    for currency, error in (("USD", ("currency_not_supported", 2010)), ("EURO", None)):
        limits = await shop.client.get(f"/v1/payouts/limits/{currency}")
        assert limits.status_code == 400
        assert error_of(limits.json()) == (error or ("invalid_request_parameter", 10028))
    assert await wallet(runtime, account.psc_id) == 0
    assert await money_problems(runtime) == []


async def test_another_merchant_sees_nothing(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    validated = await payout(shop.client, payout_body(account, capture=False))
    other = basic((await create_merchant(runtime, "Other Shop")).api_key)
    for response in (
        await shop.client.get(f"/v1/payouts/{validated['id']}", headers=other),
        await shop.client.post(f"/v1/payouts/{validated['id']}/capture", headers=other),
        await shop.client.get(f"/v1/payouts/out_{shop.mid}_{'y' * 32}_EUR"),
        await shop.client.get("/v1/payouts/whatever"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert await wallet(runtime, account.psc_id) == 0


async def test_an_idempotent_retry_pays_out_once(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    await _funded(runtime, shop)
    key = {"Idempotency-Key": "payout-1"}
    first = await shop.client.post("/v1/payouts", json=payout_body(account), headers=key)
    again = await shop.client.post("/v1/payouts", json=payout_body(account), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "customer": {"id": CUSTOMER}}
    assert account.email not in await stored_text(runtime)
    assert await wallet(runtime, account.psc_id) == 2000
    assert len(await events(runtime, "PAYOUT_SUCCEEDED")) == 1
    header = {"Correlation-ID": "payout-order-9"}
    named = await payout(shop.client, payout_body(account, "1.00"), headers=header)
    assert named["id"] == f"out_{shop.mid}_payout-order-9_EUR"
    reused = await payout(shop.client, payout_body(account, "1.00"), 400, headers=header)
    assert error_of(reused) == ("duplicate_transaction_id", 2001)
    assert await wallet(runtime, account.psc_id) == 2100
    assert await money_problems(runtime) == []
