"""Appending audit records, in the caller's transaction, for every state change and rejection."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit.models import AuditRecord
from pinpay.deferred_writes import defer_insert
from pinpay.errors import AfterRollback
from pinpay.kit import clock
from pinpay.kit.log import current_request_id

OK, REJECTED = "ok", "rejected"


async def record(
    session: AsyncSession,
    action: str,
    *,
    outcome: str = OK,
    actor: str = "system",
    reason: str | None = None,
    merchant_mid: str | None = None,
    customer_id: str | None = None,
    serial: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    defer_insert(
        session,
        AuditRecord,
        created_at=clock.now(),
        actor=actor,
        action=action,
        outcome=outcome,
        reason=reason,
        merchant_mid=merchant_mid,
        customer_id=customer_id,
        serial=serial,
        subject=subject,
        request_id=current_request_id(),
        details=details,
    )


def rejection(action: str, **fields: Any) -> AfterRollback:
    """A follow-up that records a rejection once the failed transaction has rolled back.

    A refused request rolls back everything it did, so its audit record must be written in a
    transaction of its own; services attach this to the error they raise.
    """

    async def write(session: AsyncSession) -> None:
        await record(session, action, outcome=REJECTED, **fields)

    return write
