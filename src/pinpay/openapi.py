"""The OpenAPI document at /openapi.json, made to say what the API really answers.

FastAPI documents a 422 validation error that PinPay never sends (validation failures are the
Paysafecard 400 error object), so every 422 is replaced by the error object, and each merchant
route documents the error statuses it can return.
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
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
