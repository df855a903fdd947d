"""ASGI middleware: a request id on every request, bound to the logs, echoed in a header."""

import re
import secrets
import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pinpay.errors import PinPayError
from pinpay.kit.log import log

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_REQUEST_ID.match(given) else "req_" + secrets.token_hex(8)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        # Kept for the refusal floor: a refused PIN answers no sooner than a fixed time after this.
        scope.setdefault("state", {})["started"] = started
        status = 500
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # Answered here rather than by the app's outermost handler, which runs outside this
            # middleware: the 500 and its log line must carry the request id, as every other does.
            if answered:
                raise
            log.error("http.unhandled", error=type(error).__name__, exc_info=error)
            response = JSONResponse(PinPayError().to_body(), status_code=PinPayError.http_status)
            await response(scope, receive, send_with_id)
        finally:
            # The path only: query strings may carry anything a client chose to put there.
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()
