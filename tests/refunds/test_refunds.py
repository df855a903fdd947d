"""Refunds to a customer account (API.md 5): validate or capture at once, capture later, every
refusal with its number, partial refunds up to the payment, the 45-day window, merchant
isolation, Idempotency-Key and Correlation-ID. The ledger is verified after every flow."""

import re
from datetime import timedelta

from pinpay.audit.verify import verify_all
from pinpay.kit.clock import FrozenClock
from pinpay.ledger import service as ledger
from pinpay.runtime import Runtime
from tests.api_client import Shop, basic
from tests.factories import create_merchant
from tests.payments.helpers import assign, new_payment
from tests.refunds.helpers import (
    CUSTOMER,
    audit_records,
    error_of,
    events,
    money_problems,
    open_account,
    paid_payment,
    payable,
    refund,
    refund_body,
    wallet,
)

REFUND_ID = re.compile(r"^ref_(\d{10})_[A-Za-z0-9]{32}_EUR$")


async def test_a_captured_refund_credits_the_account(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    body = await refund(shop.client, payment_id, refund_body("4.00", email=account.email))
    match = REFUND_ID.match(body["id"])
    assert match and match.group(1) == shop.mid
    assert body["object"] == "REFUND"
    assert body["status"] == "SUCCESS"
    assert (body["amount"], body["currency"]) == (4.0, "EUR")
    assert body["customer"] == {"id": CUSTOMER, "email": account.email}
    assert (body["payment_id"], body["destination"]) == (payment_id, "account")
    assert body["created"] <= body["updated"]
    assert await wallet(runtime, account.psc_id) == 400
    assert await payable(runtime, shop.mid) == 600
    # Retrieved later, the e-mail is not shown: it is kept only sealed.
    got = await shop.client.get(f"/v1/payments/{payment_id}/refunds/{body['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == {**body, "customer": {"id": CUSTOMER}}
    [event] = await events(runtime, "REFUND_SUCCEEDED")
    assert event.payload["data"]["refund_id"] == body["id"]
    assert event.payload["data"]["payment_id"] == payment_id
    assert event.payload["data"]["amount"] == 4.0
    assert event.notification_url and payment_id in event.notification_url
    assert [r.subject for r in await audit_records(runtime, "refund.capture")] == [body["id"]]
    assert await money_problems(runtime) == []


async def test_an_account_named_by_psc_id(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    # Loose form, as real clients send it: amount and capture as strings, unknown keys.
    body = await refund(
        shop.client,
        payment_id,
        refund_body("2", capture="true", psc_id=account.psc_id, extra_key={"x": 1}),
    )
    assert body["customer"] == {"id": CUSTOMER, "psc_id": account.psc_id}
    assert body["status"] == "SUCCESS"
    got = await shop.client.get(f"/v1/payments/{payment_id}/refunds/{body['id']}")
    assert got.json()["customer"] == {"id": CUSTOMER, "psc_id": account.psc_id}
    assert await wallet(runtime, account.psc_id) == 200
    assert await money_problems(runtime) == []


async def test_validation_only_then_capture(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    validated = await refund(
        shop.client, payment_id, refund_body("3.00", capture=False, email=account.email)
    )
    assert validated["status"] == "VALIDATION_SUCCESSFUL"
    assert await wallet(runtime, account.psc_id) == 0
    assert await payable(runtime, shop.mid) == 1000
    assert await events(runtime, "REFUND_SUCCEEDED") == []

    path = f"/v1/payments/{payment_id}/refunds/{validated['id']}"
    captured = await shop.client.post(f"{path}/capture", json={"id": validated["id"]})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "SUCCESS"
    assert captured.json()["id"] == validated["id"]
    assert (await shop.client.get(path)).json()["status"] == "SUCCESS"
    assert await wallet(runtime, account.psc_id) == 300
    assert await payable(runtime, shop.mid) == 700

    again = await shop.client.post(f"{path}/capture")
    assert again.status_code == 400
    assert error_of(again.json()) == ("transaction_invalid_state", 2017)
    assert await wallet(runtime, account.psc_id) == 300
    assert await money_problems(runtime) == []


async def test_partial_refunds_up_to_the_payment_then_3179(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    first = await refund(shop.client, payment_id, refund_body("6.00", email=account.email))
    too_much = await refund(
        shop.client, payment_id, refund_body("4.01", email=account.email), status=400
    )
    assert error_of(too_much) == ("refund_exceeds_payment", 3179)
    assert too_much["param"] == "amount"
    second = await refund(shop.client, payment_id, refund_body("4.00", psc_id=account.psc_id))
    assert first["id"] != second["id"]
    third = await refund(
        shop.client, payment_id, refund_body("0.01", email=account.email), status=400
    )
    assert error_of(third) == ("refund_exceeds_payment", 3179)
    # A validation is refused the same: nothing is left.
    validation = await refund(
        shop.client, payment_id, refund_body("0.01", capture=False, email=account.email), 400
    )
    assert error_of(validation) == ("refund_exceeds_payment", 3179)
    assert await wallet(runtime, account.psc_id) == 1000
    assert await payable(runtime, shop.mid) == 0
    refused = await audit_records(runtime, "refund.create", outcome="rejected")
    assert [r.reason for r in refused] == ["refund_exceeds_payment"] * 3
    assert {r.customer_id for r in refused} == {CUSTOMER}
    assert await money_problems(runtime) == []


async def test_validated_refunds_reserve_nothing(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    both = [
        await refund(
            shop.client, payment_id, refund_body("6.00", capture=False, email=account.email)
        )
        for _ in range(2)
    ]
    base = f"/v1/payments/{payment_id}/refunds"
    assert (await shop.client.post(f"{base}/{both[0]['id']}/capture")).status_code == 200
    late = await shop.client.post(f"{base}/{both[1]['id']}/capture")
    assert late.status_code == 400
    assert error_of(late.json()) == ("refund_exceeds_payment", 3179)
    assert (await shop.client.get(f"{base}/{both[1]['id']}")).json()["status"] == (
        "VALIDATION_SUCCESSFUL"
    )
    assert await wallet(runtime, account.psc_id) == 600
    assert [r.reason for r in await audit_records(runtime, "refund.capture", "rejected")] == [
        "refund_exceeds_payment"
    ]
    assert await money_problems(runtime) == []


async def test_only_a_successful_payment_is_refunded(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    initiated = await new_payment(shop.client)
    voucher = await paid_payment(runtime, shop.client, "25.00")  # payable for the refund
    authorized = await new_payment(shop.client)
    pin_payment = await refund(
        shop.client, voucher, refund_body("1.00", capture=False, email=account.email)
    )
    assert pin_payment["status"] == "VALIDATION_SUCCESSFUL"
    from tests.factories import issue_vouchers

    pin = (await issue_vouchers(runtime, face_value=1000)).vouchers[0].pin
    await assign(shop.client, authorized, pin)
    for payment_id, status in ((initiated, "INITIATED"), (authorized, "AUTHORIZED")):
        for capture in (True, False):
            answer = await refund(
                shop.client, payment_id, refund_body(capture=capture, email=account.email), 400
            )
            assert error_of(answer) == ("payment_not_refundable", 3180)
            assert status in answer["message"]
    assert await wallet(runtime, account.psc_id) == 0
    assert await money_problems(runtime) == []


async def test_up_to_45_days_after_the_payment(
    runtime: Runtime, shop: Shop, frozen: FrozenClock
) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    frozen.advance(timedelta(days=45))
    in_time = await refund(
        shop.client, payment_id, refund_body("1.00", capture=False, email=account.email)
    )
    assert in_time["status"] == "VALIDATION_SUCCESSFUL"
    last = await refund(shop.client, payment_id, refund_body("1.00", email=account.email))
    assert last["status"] == "SUCCESS"
    frozen.advance(timedelta(seconds=1))
    late = await refund(shop.client, payment_id, refund_body("1.00", email=account.email), 400)
    assert error_of(late) == ("refund_period_expired", 3180)
    # A refund validated in time cannot be captured after the window either.
    capture = await shop.client.post(f"/v1/payments/{payment_id}/refunds/{in_time['id']}/capture")
    assert capture.status_code == 400
    assert error_of(capture.json()) == ("refund_period_expired", 3180)
    assert await wallet(runtime, account.psc_id) == 100
    assert await money_problems(runtime) == []


async def test_unknown_account_3162(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    other = await open_account(runtime, "bob@example.org", "Bob", "Jones", "1980-05-05")
    payment_id = await paid_payment(runtime, shop.client)
    for customer in (
        {"email": "nobody@example.org"},
        {"psc_id": "psc_doesnotexist0000000"},
        {"psc_id": "not-a-psc-id"},
        # Both given: they must name the same account.
        {"email": account.email, "psc_id": other.psc_id},
    ):
        answer = await refund(shop.client, payment_id, refund_body(**customer), 400)
        assert error_of(answer) == ("customer_account_not_found", 3162), customer
    assert await money_problems(runtime) == []
    assert await payable(runtime, shop.mid) == 1000


async def test_customer_id_must_be_the_payments_3181(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    answer = await refund(
        shop.client,
        payment_id,
        refund_body(customer_id="someone-else", email=account.email),
        status=400,
    )
    assert error_of(answer) == ("customer_id_mismatch", 3181)
    assert answer["param"] == "customer.id"
    [refused] = await audit_records(runtime, "refund.create", "rejected")
    assert (refused.customer_id, refused.reason) == ("someone-else", "customer_id_mismatch")
    assert await wallet(runtime, account.psc_id) == 0


async def test_request_validation(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    email = {"email": account.email}
    cases: list[tuple[dict[str, object], tuple[str, int | None], str | None]] = [
        (refund_body("0.00", **email), ("invalid_amount", 2029), "amount"),
        (refund_body("-1", **email), ("invalid_amount", 2029), "amount"),
        (refund_body("1.001", **email), ("invalid_request_parameter", 10028), "amount"),
        (refund_body(None, **email), ("invalid_request_parameter", 10028), "amount"),
        (refund_body(currency="USD", **email), ("invalid_request_parameter", 10028), "currency"),
        (refund_body(currency="EURO", **email), ("invalid_request_parameter", 10028), "currency"),
        (refund_body(type="CARD", **email), ("invalid_request_parameter", 10028), "type"),
        (refund_body(capture="maybe", **email), ("invalid_request_parameter", 10028), "capture"),
        (refund_body(customer_id="", **email), ("customer_id_missing", 3017), "customer.id"),
        (refund_body(customer_id="a@b.c", **email), ("invalid_customer_id", 3019), "customer.id"),
        (refund_body(), ("invalid_request_parameter", 10028), "customer.email"),
        (refund_body(email="not-mail"), ("invalid_request_parameter", 10028), "customer.email"),
        (refund_body(destination="card", **email), ("invalid_request_parameter", 10028), None),
        (refund_body(comment="x" * 256, **email), ("invalid_request_parameter", 10028), None),
        (
            {"type": "PAYSAFECARD", "amount": 1, "currency": "EUR"},
            ("customer_id_missing", 3017),
            None,
        ),
    ]
    for body, error, param in cases:
        answer = await refund(shop.client, payment_id, body, status=400)
        assert error_of(answer) == error, body
        if param:
            assert answer["param"] == param, body
    unknown = await refund(shop.client, "pay_0000000000_nothing_EUR", refund_body(**email), 404)
    assert error_of(unknown) == ("payment_not_found", 2002)
    # Ids no payment or refund can have (a NUL byte, which PostgreSQL refuses) are just unknown.
    nul = await refund(shop.client, "pay_0000000000_a%00b_EUR", refund_body(**email), 404)
    assert error_of(nul) == ("payment_not_found", 2002)
    for path in (f"{payment_id}/refunds/ref_{shop.mid}_a%00b_EUR", "a%00b/refunds/ref_1"):
        assert (await shop.client.get(f"/v1/payments/{path}")).status_code == 404
    assert (await shop.client.get("/v1/payouts/out_0000000000_a%00b_EUR")).status_code == 404
    assert await wallet(runtime, account.psc_id) == 0
    assert await money_problems(runtime) == []


async def test_a_comment_is_kept(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    body = await refund(
        shop.client, payment_id, refund_body(email=account.email, comment=" damaged in transit ")
    )
    assert body["comment"] == "damaged in transit"


async def test_another_merchant_sees_nothing(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    validated = await refund(
        shop.client, payment_id, refund_body(capture=False, email=account.email)
    )
    other = await create_merchant(runtime, "Other Shop")
    as_other = basic(other.api_key)
    base = f"/v1/payments/{payment_id}/refunds"
    for response in (
        await shop.client.post(base, json=refund_body(email=account.email), headers=as_other),
        await shop.client.get(f"{base}/{validated['id']}", headers=as_other),
        await shop.client.post(f"{base}/{validated['id']}/capture", headers=as_other),
    ):
        assert response.status_code == 404, response.text
    # The right merchant, a refund id of another payment or a made-up one: 404 too.
    second = await paid_payment(runtime, shop.client)
    for path in (
        f"/v1/payments/{second}/refunds/{validated['id']}",
        f"{base}/ref_{shop.mid}_{'x' * 32}_EUR",
        f"{base}/nonsense",
    ):
        response = await shop.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert await wallet(runtime, account.psc_id) == 0
    assert await money_problems(runtime) == []


async def test_an_idempotent_retry_refunds_once(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    key = {"Idempotency-Key": "refund-1"}
    body = refund_body("5.00", email=account.email)
    first = await shop.client.post(f"/v1/payments/{payment_id}/refunds", json=body, headers=key)
    again = await shop.client.post(f"/v1/payments/{payment_id}/refunds", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    # The replay is the first answer without the e-mail, which is never stored in clear.
    assert again.json() == {**first.json(), "customer": {"id": CUSTOMER}}
    assert await wallet(runtime, account.psc_id) == 500
    assert await payable(runtime, shop.mid) == 500
    assert len(await events(runtime, "REFUND_SUCCEEDED")) == 1
    other_body = await shop.client.post(
        f"/v1/payments/{payment_id}/refunds", json=refund_body("1.00"), headers=key
    )
    assert other_body.status_code == 409
    # A new key is a new refund.
    third = await refund(shop.client, payment_id, body, headers={"Idempotency-Key": "refund-2"})
    assert third["id"] != first.json()["id"]
    assert await wallet(runtime, account.psc_id) == 1000
    assert await money_problems(runtime) == []


async def test_correlation_id_names_the_refund(runtime: Runtime, shop: Shop) -> None:
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    header = {"Correlation-ID": "order-77-refund"}
    body = await refund(
        shop.client, payment_id, refund_body("1.00", email=account.email), 201, header
    )
    assert body["id"] == f"ref_{shop.mid}_order-77-refund_EUR"
    again = await refund(
        shop.client, payment_id, refund_body("1.00", email=account.email), 400, header
    )
    assert error_of(again) == ("duplicate_transaction_id", 2001)
    assert await wallet(runtime, account.psc_id) == 100


async def test_never_more_than_the_merchant_is_owed(runtime: Runtime, shop: Shop) -> None:
    """A payout took most of the payable: a refund may not drive it below zero."""
    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    payout = await shop.client.post(
        "/v1/payouts",
        json={
            "type": "PAYSAFECARD",
            "capture": True,
            "amount": "8.00",
            "currency": "EUR",
            "customer": account.payout_customer("payee-1"),
        },
    )
    assert payout.status_code == 201, payout.text
    assert await payable(runtime, shop.mid) == 200
    for capture in (False, True):
        answer = await refund(
            shop.client, payment_id, refund_body("2.01", capture=capture, email=account.email), 400
        )
        assert error_of(answer) == ("merchant_balance_insufficient", None)
    assert (await refund(shop.client, payment_id, refund_body("2.00", email=account.email)))[
        "status"
    ] == "SUCCESS"
    assert await payable(runtime, shop.mid) == 0
    assert await wallet(runtime, account.psc_id) == 1000
    assert await money_problems(runtime) == []


async def test_an_inactive_merchant_cannot_refund(runtime: Runtime, shop: Shop) -> None:
    from tests.payments.helpers import update_merchant

    account = await open_account(runtime)
    payment_id = await paid_payment(runtime, shop.client)
    await update_merchant(runtime, shop.mid, status="SUSPENDED")
    answer = await refund(shop.client, payment_id, refund_body(email=account.email), 400)
    assert error_of(answer) == ("merchant_not_active", 3001)


async def test_audit_verify_reports_a_negative_payable(runtime: Runtime, shop: Shop) -> None:
    """What refunds and payouts never do, written behind their back, is found."""
    async with runtime.transaction() as session:
        await ledger.post(
            session,
            "manual",
            [
                ledger.Line(ledger.MERCHANT, shop.mid, "EUR", -100),
                ledger.Line(ledger.ISSUANCE, "EUR", "EUR", 100),
            ],
        )
    async with runtime.transaction() as session:
        problems = (await verify_all(session, runtime.keyring)).problems
    assert problems == [f"merchant:{shop.mid} EUR: payable is negative (-100)"]
