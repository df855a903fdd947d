"""The OpenAPI document matches what the API answers: a short schemathesis run against a live
server checks every documented operation for 5xx, undocumented statuses and schema breaks."""

import base64
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pinpay.runtime import Runtime
from tests.factories import create_merchant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def test_every_operation_conforms_to_the_document(
    runtime: Runtime, pinpay_server: str
) -> None:
    merchant = await create_merchant(runtime)
    auth = {"Authorization": "Basic " + base64.b64encode(merchant.api_key.encode()).decode()}
    schema = schemathesis.openapi.from_url(f"{pinpay_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
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


async def test_stateful_sequences_follow_links_without_a_5xx_or_schema_break(
    runtime: Runtime, pinpay_server: str
) -> None:
    """Chains of calls that reuse what earlier calls returned (a created payment's id fed to
    retrieve, capture, cancel, cards, refunds, notifications), as schemathesis infers them."""
    merchant = await create_merchant(runtime)
    auth = {"Authorization": "Basic " + base64.b64encode(merchant.api_key.encode()).decode()}
    schema = schemathesis.openapi.from_url(f"{pinpay_server}/openapi.json")
    base = schema.as_state_machine()

    class PinPayMachine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": pinpay_server, "headers": auth}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, recorder=self.recorder)

    PinPayMachine.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
