"""Wrapping a POST handler's work so that an Idempotency-Key replays its first response."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.idempotency import service


async def respond_once(
    session: AsyncSession,
    request: Request,
    merchant_id: int,
    status_code: int,
    produce: Callable[[], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """Run `produce` unless this key already has a response; runs in the request's transaction,
    so the stored response commits exactly when the work does."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return JSONResponse(await produce(), status_code)
    fingerprint = service.request_fingerprint(
        request.method, request.url.path, await request.body()
    )
    replay = await service.claim(session, merchant_id, key, fingerprint)
    if replay is not None:
        return JSONResponse(replay.body, replay.status, headers={"Idempotent-Replayed": "true"})
    body = await produce()
    await service.remember(session, merchant_id, key, status_code, body)
    return JSONResponse(body, status_code)
