"""The FastAPI application factory: routers, middleware, error handlers, `/health`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from pinpay import __version__, openapi
from pinpay.config import Settings, get_settings
from pinpay.handlers import install_error_handlers
from pinpay.kit.log import configure_logging, log
from pinpay.merchants.api import router as oauth_router
from pinpay.middleware import RequestIdMiddleware
from pinpay.notifications.api import router as notifications_router
from pinpay.payments.api import router as payments_router
from pinpay.payouts.api import router as payouts_router
from pinpay.refunds.api import router as refunds_router
from pinpay.runtime import Runtime
from pinpay.tls import HstsMiddleware
from pinpay.web import pages
from pinpay.web.account import router as account_router
from pinpay.web.pages import router as pages_router
from pinpay.worker.service import run_forever


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
    app.add_middleware(HstsMiddleware, max_age=settings.hsts_seconds)
    install_error_handlers(app)

    app.include_router(payments_router)
    app.include_router(refunds_router)
    app.include_router(payouts_router)
    app.include_router(oauth_router)
    app.include_router(notifications_router)
    app.include_router(pages_router)
    app.include_router(account_router)
    app.mount(
        "/static", StaticFiles(directory=Path(pages.__file__).parent / "static"), name="static"
    )

    openapi.install(app)

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
