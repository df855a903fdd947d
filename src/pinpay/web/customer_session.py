"""The customer's login cookie, shared by the account pages and the payment page.

`pinpay_session` holds a random token (the database has only its SHA-256): HttpOnly, so no
script reads it; SameSite=Lax, so no other site's form or frame sends it; Secure whenever PinPay
is reached over HTTPS; path `/`, because both /account and /pay need it.
"""

import re

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.customers.logins import account_for_session
from pinpay.customers.models import CustomerAccount
from pinpay.runtime import Runtime

SESSION_COOKIE = "pinpay_session"
# Where a login may send the customer back to: our own pages only, never an open redirect.
_SAFE_NEXT = re.compile(r"^/(pay/[A-Za-z0-9_-]{16,80}|account(/load)?)$")


def secure_cookies(request: Request) -> bool:
    """HTTPS as the request arrived, or as customers reach us behind a TLS-terminating proxy."""
    runtime: Runtime = request.app.state.runtime
    return request.url.scheme == "https" or runtime.settings.public_base_url.startswith("https:")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    runtime: Runtime = request.app.state.runtime
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=runtime.settings.customer_session_seconds,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


async def current_account(session: AsyncSession, request: Request) -> CustomerAccount | None:
    return await account_for_session(session, session_token(request))


def safe_next(target: str | None) -> str | None:
    return target if target and _SAFE_NEXT.match(target) else None
