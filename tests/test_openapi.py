"""The OpenAPI document matches what the API answers: a short schemathesis run against a live
server checks every documented operation for 5xx, undocumented statuses and schema breaks, and a
stateful run follows the document's links from created payments through their life cycle."""

import base64
import random
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.stateful.state_machine import normalize_name
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from pinpay.kit.money import SUPPORTED_CURRENCIES
from pinpay.merchants import service as merchants
from pinpay.payments.models import Payment
from pinpay.runtime import Runtime
from tests.factories import create_merchant, issue_vouchers

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CREATE = "POST /v1/payments"
PAYMENT = "/v1/payments/{payment_id}"
# What must have been called on payments the run itself created, with an answer other than 404.
FOLLOWED = [
    f"GET {PAYMENT}",
    f"POST {PAYMENT}/cards",
    f"POST {PAYMENT}/capture",
    f"POST {PAYMENT}/cancel",
    f"GET {PAYMENT}/notifications",
]
# `make soak` (HYPOTHESIS_PROFILE=soak) runs many more scenarios.
SCENARIOS = 200 if settings.get_current_profile_name() == "soak" else 30


def _operations(schema: Any) -> list[Any]:
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    return [result.ok() for result in results]


def _basic(api_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(api_key.encode()).decode()}


async def test_every_operation_conforms_to_the_document(
    runtime: Runtime, pinpay_server: str
) -> None:
    merchant = await create_merchant(runtime)
    auth = _basic(merchant.api_key)
    schema = schemathesis.openapi.from_url(f"{pinpay_server}/openapi.json")
    operations = _operations(schema)
    assert {op.path for op in operations} >= {
        "/v1/payments",
        "/v1/payments/{payment_id}",
        "/v1/payments/{payment_id}/capture",
        "/v1/vouchers/check",
        "/health",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(base_url=pinpay_server, headers=auth, checks=CHECKS)

        conforms()


async def _merchant_for_any_payment(runtime: Runtime) -> merchants.NewMerchant:
    """Every currency PinPay holds, and no per-payment maximum below the API's own limit, so
    that any amount and currency the document allows can be paid."""
    async with runtime.transaction() as session:
        new = await merchants.create_merchant(
            session, runtime.keyring, name="Fuzz Shop", currencies=sorted(SUPPORTED_CURRENCIES)
        )
        new.merchant.max_payment_minor = 10**15
        return new


async def _pin_per_currency(runtime: Runtime) -> dict[str, str]:
    """One voucher per currency, worth more than any payment can ask."""
    pins = {}
    for currency in sorted(SUPPORTED_CURRENCIES):
        batch = await issue_vouchers(runtime, face_value=10**15, currency=currency)
        pins[currency] = batch.vouchers[0].pin
    return pins


class Depth:
    """What the stateful run reached: payments it created, and calls on them by operation."""

    def __init__(self) -> None:
        self.scenarios = 0
        self.calls: Counter[tuple[str, int]] = Counter()
        self.created: set[str] = set()
        self.on_created: Counter[tuple[str, int]] = Counter()

    def record(self, case: Any, response: Any) -> None:
        label, status = case.operation.label, response.status_code
        self.calls[label, status] += 1
        if label == CREATE and status == 201:
            self.created.add(response.json()["id"])
        elif (case.path_parameters or {}).get("payment_id") in self.created:
            self.on_created[label, status] += 1

    def reached(self, label: str) -> int:
        return sum(
            n for (op, status), n in self.on_created.items() if op == label and status != 404
        )

    def report(self) -> str:
        rows = sorted(f"{op} {status}: {n}" for (op, status), n in self.on_created.items())
        return f"{len(self.created)} payments created; on them:\n  " + "\n  ".join(rows)


async def test_stateful_sequences_follow_links_without_a_5xx_or_schema_break(
    runtime: Runtime, pinpay_server: str
) -> None:
    """Chains of calls that reuse what earlier calls returned (a created payment's id fed to
    retrieve, capture, cancel, cards, refunds, notifications) along the document's links.
    Half of the PIN assignments use a real voucher of the payment's currency, so that payments
    get authorized, captured and refunded too."""
    merchant = await _merchant_for_any_payment(runtime)
    pins = await _pin_per_currency(runtime)
    auth = _basic(merchant.api_key)
    schema = schemathesis.openapi.from_url(f"{pinpay_server}/openapi.json")
    base = schema.as_state_machine()
    depth = Depth()

    class PinPayMachine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": pinpay_server, "headers": auth}

        def before_call(self, case: Any) -> None:
            payment_id = str((case.path_parameters or {}).get("payment_id", ""))
            currency = payment_id.rsplit("_", 1)[-1]
            if case.path.endswith("/cards") and currency in pins and random.random() < 0.5:
                case.body = {"pins": [pins[currency]]}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            depth.record(case, response)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, recorder=self.recorder)

        def teardown(self) -> None:
            depth.scenarios += 1

    # A scenario that starts from a made-up id only meets 404s (the test above sends those
    # already): scenarios start where a payment or payout is created or payments are listed.
    for operation in _operations(schema):
        if "{" in operation.path:
            setattr(PinPayMachine, normalize_name(f"RANDOM -> {operation.label}"), None)
    # The server's state is not Hypothesis's to replay (payment ids, lockouts, the PINs above):
    # when a replayed prefix finds other bundles than before, Hypothesis stops the run with
    # FlakyStrategyDefinition, and the run goes on with a new one (as schemathesis's own runner
    # does). A failing check is never swallowed: it raises something else.
    for _ in range(10):
        if depth.scenarios >= SCENARIOS:
            break
        try:
            PinPayMachine.run(
                settings=settings(
                    max_examples=SCENARIOS - depth.scenarios,
                    stateful_step_count=10,
                    phases=[Phase.generate],
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
            )
        except FlakyStrategyDefinition:
            continue
    print(depth.report())  # shown with -s or on failure
    assert len(depth.created) >= SCENARIOS // 2, depth.report()
    for label in FOLLOWED:
        assert depth.reached(label) >= 1, (
            f"{label} never reached a created payment\n{depth.report()}"
        )
    async with runtime.transaction() as session:
        stored = await session.scalar(
            select(func.count()).where(Payment.merchant_id == merchant.merchant.id)
        )
    assert stored == len(depth.created)
