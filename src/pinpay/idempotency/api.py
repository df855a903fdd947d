"""Wrapping a POST handler's work so that an Idempotency-Key replays its first response."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.errors import PinPayError
from pinpay.idempotency import service


async def respond_once(
    session: AsyncSession,
    request: Request,
    merchant_id: int,
    status_code: int,
    produce: Callable[[], Awaitable[dict[str, Any]]],
    *,
    stored: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> JSONResponse:
    """Run `produce` unless this key already has a response; runs in the request's transaction,
    so the stored response commits exactly when the work does. A refusal (4xx) is stored too,
    after its transaction rolled back: the same key always gets the first answer.

    `stored` gives the body to keep for replays when the first answer shows something exactly
    once or must not rest in clear (a new voucher's PIN, an e-mail address): a replay then shows
    that body, without the secret, and never does the work again."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return JSONResponse(await produce(), status_code)
    fingerprint = service.request_fingerprint(
        request.method, request.url.path, await request.body()
    )
    replay = await service.claim(session, merchant_id, key, fingerprint)
    if replay is not None:
        return JSONResponse(replay.body, replay.status, headers={"Idempotent-Replayed": "true"})
    try:
        body = await produce()
    except PinPayError as refused:
        if refused.http_status < 500:
            error_status, error_body = refused.http_status, refused.to_body()

            async def store(follow_up: AsyncSession) -> None:
                await service.remember_refusal(
                    follow_up, merchant_id, key, fingerprint, error_status, error_body
                )

            refused.after_rollback.append(store)
        raise
    await service.remember(session, merchant_id, key, status_code, stored(body) if stored else body)
    return JSONResponse(body, status_code)
