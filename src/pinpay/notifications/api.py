"""What a merchant sees of its notifications: every event, every attempt, and a resend."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.errors import NotFound
from pinpay.idempotency.api import respond_once
from pinpay.kit import clock
from pinpay.kit.clock import unix_ms
from pinpay.merchants.auth import authenticate
from pinpay.merchants.models import Merchant
from pinpay.notifications.models import OutboxEvent, WebhookAttempt
from pinpay.notifications.service import PENDING
from pinpay.payments import service as payments
from pinpay.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["notifications"])


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    default_message = "No notification with this id."


class AttemptOut(BaseModel):
    attempt: int
    attempted: int
    http_status: int | None = None
    latency_ms: int
    error: str | None = None


class NotificationOut(BaseModel):
    object: str = "NOTIFICATION"
    id: str
    event_type: str
    status: str
    notification_url: str | None = None
    created: int
    delivered: int | None = None
    next_attempt: int | None = None
    attempts: list[AttemptOut]


class NotificationList(BaseModel):
    object: str = "list"
    data: list[NotificationOut]


async def _described(session: AsyncSession, events: list[OutboxEvent]) -> list[dict[str, Any]]:
    attempts: dict[int, list[dict[str, Any]]] = {event.id: [] for event in events}
    if events:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.event_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        )
        for row in rows:
            attempts[row.event_id].append(
                {
                    "attempt": row.attempt,
                    "attempted": unix_ms(row.attempted_at),
                    "http_status": row.http_status,
                    "latency_ms": row.latency_ms,
                    "error": row.error,
                }
            )
    return [
        {
            "object": "NOTIFICATION",
            "id": event.public_id,
            "event_type": event.event_type,
            "status": event.status,
            "notification_url": event.notification_url,
            "created": unix_ms(event.created_at),
            "delivered": unix_ms(event.delivered_at) if event.delivered_at else None,
            "next_attempt": unix_ms(event.next_attempt_at) if event.status == PENDING else None,
            "attempts": attempts[event.id],
        }
        for event in events
    ]


@router.get(
    "/payments/{payment_id}/notifications",
    response_model=NotificationList,
    summary="A payment's notifications and their delivery attempts (ext)",
)
async def list_notifications(request: Request, payment_id: str) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)
        payment = await payments.get(session, merchant, payment_id)
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.payment_id == payment.id)
                .order_by(OutboxEvent.id)
            )
        )
        return JSONResponse({"object": "list", "data": await _described(session, events)})


async def _resend(session: AsyncSession, merchant: Merchant, public_id: str) -> OutboxEvent:
    event = await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.public_id == public_id, OutboxEvent.merchant_id == merchant.id)
        .with_for_update()
    )
    if event is None:
        raise NotificationNotFound()
    # Due now, with a full set of retries; its attempts so far stay on record.
    event.status, event.attempts, event.next_attempt_at = PENDING, 0, clock.now()
    await session.flush()
    await audit.record(
        session,
        "notification.resend",
        actor=f"merchant:{merchant.mid}",
        merchant_mid=merchant.mid,
        subject=public_id,
    )
    return event


@router.post(
    "/notifications/{notification_id}/resend",
    response_model=NotificationOut,
    summary="Send a notification again (ext)",
)
async def resend_notification(request: Request, notification_id: str) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    async with runtime.unit_of_work() as session:
        merchant = await authenticate(session, request)

        async def produce() -> dict[str, Any]:
            event = await _resend(session, merchant, notification_id)
            return (await _described(session, [event]))[0]

        return await respond_once(session, request, merchant.id, 200, produce)
