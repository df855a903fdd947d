"""The transactional outbox: a notification is owed exactly when the change it reports commits."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.deferred_writes import defer_insert
from pinpay.kit import clock
from pinpay.kit.ids import random_alnum
from pinpay.notifications.models import OutboxEvent

PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"


async def enqueue(
    session: AsyncSession,
    *,
    merchant_id: int,
    event_type: str,
    data: dict[str, Any],
    notification_url: str | None,
    payment_id: int | None = None,
) -> None:
    """Write the event row in the caller's transaction: rolled back with it, committed with it.

    Nothing is owed where the merchant gave no notification_url (it is optional)."""
    if not notification_url:
        return
    now = clock.now()
    defer_insert(
        session,
        OutboxEvent,
        public_id="evt_" + random_alnum(24),
        merchant_id=merchant_id,
        payment_id=payment_id,
        event_type=event_type,
        payload={
            "timestamp": clock.unix_ms(now),
            "eventType": event_type,
            "version": "1",
            "data": data,
        },
        notification_url=notification_url,
        status=PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
