"""The FastAPI application factory, the error object every failure is rendered as, `/health`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from pinpay import __version__
from pinpay.config import Settings, get_settings
from pinpay.errors import InvalidRequestParameter, PinPayError, ServiceUnavailable
from pinpay.kit.log import configure_logging, log
from pinpay.middleware import RequestIdMiddleware
from pinpay.runtime import Runtime
from pinpay.worker.service import run_forever


def error_response(error: PinPayError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.http_status)


async def _pinpay_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PinPayError)
    return error_response(error)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    return error_response(
        InvalidRequestParameter(f"{param or 'request'}: {first.get('msg', 'invalid')}", param=param)
    )


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


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_forever(runtime, stop)) if settings.embedded_worker else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker:
                with suppress(Exception):
                    await worker
            await runtime.close()

    app = FastAPI(
        title="PinPay", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.runtime = runtime
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(PinPayError, _pinpay_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for db_error in (OperationalError, DBAPIError, PoolTimeout, ConnectionError, OSError):
        app.add_exception_handler(db_error, _database_down)
    app.add_exception_handler(Exception, _unexpected)

    from pinpay.payments.api import router as payments_router

    app.include_router(payments_router)

    @app.get("/health", tags=["operations"])
    async def health() -> JSONResponse:
        try:
            async with runtime.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health.database_down", error=type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    return app
