"""How every failure reaches a client: the Paysafecard error object, never a stack trace."""

import asyncio
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinpay.audit import service as audit
from pinpay.errors import (
    InvalidRequestParameter,
    PinNotAccepted,
    PinPayError,
    ServiceUnavailable,
)
from pinpay.kit.log import log


def error_response(error: PinPayError) -> JSONResponse:
    return JSONResponse(
        error.to_body(), status_code=error.http_status, headers=error.headers or None
    )


async def record_rejection(request: Request, error: PinPayError) -> None:
    """Every refused API call lands in the audit log (which call, which merchant, why), in a
    transaction of its own: the request's own transaction has rolled back."""
    if not request.url.path.startswith("/v1/"):
        return  # the payment page and operations routes audit what they refuse themselves
    route = request.scope.get("route")
    subject = request.path_params.get("payment_id")
    try:
        async with request.app.state.runtime.transaction() as session:
            await audit.record(
                session,
                f"api.{request.method.lower()} {getattr(route, 'path', 'unknown')}",
                outcome=audit.REJECTED,
                actor="merchant",
                reason=error.code,
                merchant_mid=getattr(request.state, "merchant_mid", None),
                subject=str(subject)[:80] if subject else None,
                details={"status": error.http_status, "number": error.number, "param": error.param},
            )
    except Exception as failure:  # the answer to the client must not depend on the audit write
        log.error("audit.rejection_not_recorded", error=type(failure).__name__)


async def _pinpay_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PinPayError)
    if error.http_status < 500:
        await record_rejection(request, error)
    return error_response(error)


async def _pin_refused(request: Request, error: Exception) -> JSONResponse:
    """Every refused PIN answers after the same minimum time: timing tells nothing."""
    assert isinstance(error, PinPayError)
    await record_rejection(request, error)
    await refusal_floor(request)
    return error_response(error)


async def refusal_floor(request: Request) -> None:
    """Sleep until the request has taken at least `pin_refusal_floor_ms`."""
    settings = request.app.state.runtime.settings
    started = request.scope.get("state", {}).get("started")
    if started is not None:
        floor = settings.pin_refusal_floor_ms / 1000
        await asyncio.sleep(max(0.0, floor - (time.perf_counter() - started)))


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    refused = InvalidRequestParameter(
        f"{param or 'request'}: {first.get('msg', 'invalid')}", param=param
    )
    await record_rejection(request, refused)
    return error_response(refused)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "invalid_api_key"}
    body = {"code": codes.get(error.status_code, "http_error"), "message": str(error.detail)}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _database_down(_request: Request, error: Exception) -> JSONResponse:
    if (
        isinstance(error, DBAPIError)
        and not error.connection_invalidated
        and not isinstance(error, OperationalError)
    ):
        return await _unexpected(_request, error)
    log.warning("database.unavailable", error=type(error).__name__)
    return error_response(ServiceUnavailable())


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    # The full story goes to the log; the client gets the error object and nothing internal.
    log.error("http.unhandled", error=type(error).__name__, exc_info=error)
    return error_response(PinPayError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PinPayError, _pinpay_error)
    app.add_exception_handler(PinNotAccepted, _pin_refused)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for db_error in (OperationalError, DBAPIError, PoolTimeout, ConnectionError, OSError):
        app.add_exception_handler(db_error, _database_down)
    app.add_exception_handler(Exception, _unexpected)
