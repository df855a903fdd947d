"""The OpenAPI document at /openapi.json, made to say what the API really answers.

FastAPI documents a 422 validation error that PinPay never sends (validation failures are the
Paysafecard 400 error object), so every 422 is replaced by the error object, and each merchant
route documents the error statuses it can return.

Responses carry OpenAPI links (a created payment's id to retrieve, capture, cancel, assign PINs,
list notifications and refund it; a refund's and a payout's id to their own calls), so that
clients and stateful fuzzers (tests/test_openapi.py) can follow one resource through its life.
The payment object's schema is named `Payment`, the resource `/v1/payments` creates: tools
that infer links by name then see `submerchant_id` and `shop_id` as the payment's own fields.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from pinpay import __version__


class ErrorObject(BaseModel):
    code: str
    message: str
    number: int | None = None
    param: str | None = None


ERROR_STATUSES = {
    "400": "Invalid request: the error object with code, number and param",
    "401": "Missing or invalid API key or Bearer token (10008; WWW-Authenticate for a token)",
    "403": "IP not allowed, the feature is switched off for this merchant, or the Bearer "
    "token lacks the route's scope (insufficient_scope)",
    "404": "Unknown id, or another merchant's (2002)",
    "409": "Idempotency-Key reused with another body, or still in progress",
    "503": "Database unavailable; retry",
}


def install(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title="PinPay API",
            version=__version__,
            routes=app.routes,
            description="Merchant API, wire-compatible with Paysafecard REST "
            "API v1, plus PinPay's extensions.",
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorObject"] = ErrorObject.model_json_schema()
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error_response = {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorObject"}}
            }
        }
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                statuses = (
                    ERROR_STATUSES if path.startswith("/v1/") else {"503": ERROR_STATUSES["503"]}
                )
                for status, description in statuses.items():
                    responses[status] = {"description": description, **error_response}
        _rename_schema(document, "PaymentObject", "Payment")
        _add_links(document)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]


def _rename_schema(document: dict[str, Any], old: str, new: str) -> None:
    schemas = document["components"]["schemas"]
    schemas[new] = schemas.pop(old)
    old_ref, new_ref = f"#/components/schemas/{old}", f"#/components/schemas/{new}"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("$ref") == old_ref:
                node["$ref"] = new_ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


PAYMENT = "/v1/payments/{payment_id}"
# Where a payment object comes back (path, method, status), and what can follow it.
PAYMENT_SOURCES = [
    ("/v1/payments", "post", "201"),
    (PAYMENT, "get", "200"),
    (f"{PAYMENT}/cards", "post", "200"),
    (f"{PAYMENT}/capture", "post", "200"),
    (f"{PAYMENT}/cancel", "post", "200"),
]
PAYMENT_TARGETS = {
    "GetPayment": (PAYMENT, "get"),
    "AssignCards": (f"{PAYMENT}/cards", "post"),
    "CapturePayment": (f"{PAYMENT}/capture", "post"),
    "CancelPayment": (f"{PAYMENT}/cancel", "post"),
    "ListNotifications": (f"{PAYMENT}/notifications", "get"),
    "RefundPayment": (f"{PAYMENT}/refunds", "post"),
}
# A refund of the whole payment to a new voucher: needs no customer account.
REFUND_BODY = {
    "type": "PAYSAFECARD",
    "amount": "$response.body#/amount",
    "currency": "$response.body#/currency",
    "capture": True,
    "destination": "voucher",
    "customer": {"id": "$response.body#/customer/id"},
}
REFUND = f"{PAYMENT}/refunds/{{refund_id}}"
REFUND_LINKS = {
    "GetRefund": (REFUND, "get"),
    "CaptureRefund": (f"{REFUND}/capture", "post"),
}
PAYOUT_LINKS = {
    "GetPayout": ("/v1/payouts/{payout_id}", "get"),
    "CapturePayout": ("/v1/payouts/{payout_id}/capture", "post"),
}


def _add_links(document: dict[str, Any]) -> None:
    paths = document["paths"]

    def link(target: tuple[str, str], **fields: Any) -> dict[str, Any]:
        path, method = target
        return {"operationId": paths[path][method]["operationId"], **fields}

    def response(path: str, method: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path][method]["responses"][status]
        return found

    by_payment = {"path.payment_id": "$response.body#/id"}
    for path, method, status in PAYMENT_SOURCES:
        links = response(path, method, status).setdefault("links", {})
        for name, target in PAYMENT_TARGETS.items():
            if target == (path, method):
                continue
            extra = {"requestBody": REFUND_BODY} if name == "RefundPayment" else {}
            links[name] = link(target, parameters=by_payment, **extra)
    by_refund = {
        "path.payment_id": "$response.body#/payment_id",
        "path.refund_id": "$response.body#/id",
    }
    for path, method, status in [
        (f"{PAYMENT}/refunds", "post", "201"),
        (f"{REFUND}/capture", "post", "200"),
    ]:
        links = response(path, method, status).setdefault("links", {})
        for name, target in REFUND_LINKS.items():
            if target != (path, method):
                links[name] = link(target, parameters=by_refund)
    response(f"{PAYMENT}/notifications", "get", "200")["links"] = {
        "ResendNotification": link(
            ("/v1/notifications/{notification_id}/resend", "post"),
            parameters={"path.notification_id": "$response.body#/data/0/id"},
        )
    }
    by_payout = {"path.payout_id": "$response.body#/id"}
    response("/v1/payouts", "post", "201")["links"] = {
        name: link(target, parameters=by_payout) for name, target in PAYOUT_LINKS.items()
    }
