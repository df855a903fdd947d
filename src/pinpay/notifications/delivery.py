"""Delivering outbox events to merchants: at least once, in order per payment, with back-off.

A worker claims due events in one short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so
several workers never take the same event) and leases them; it then posts them with no database
transaction open, and records each attempt in another. A worker that dies mid-delivery leaves a
lease that runs out, and the event is sent again: receivers must tolerate duplicates, never
missing events.
"""

import asyncio
import ipaddress
import json
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pinpay import webhooks
from pinpay.audit import service as audit
from pinpay.db import dialect_name
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.log import log
from pinpay.merchants.models import Merchant
from pinpay.merchants.service import webhook_secrets
from pinpay.notifications.models import OutboxEvent, WebhookAttempt
from pinpay.notifications.service import DELIVERED, FAILED, PENDING
from pinpay.runtime import Runtime

LEASE = timedelta(seconds=60)
MAX_RETRY_DELAY = timedelta(hours=6)
USER_AGENT = "PinPay-Notifications/1"


@dataclass(frozen=True)
class Outgoing:
    event_id: int
    attempt: int
    url: str | None
    body: bytes
    content_type: str
    secrets: list[str]
    merchant_mid: str


class DestinationRefused(Exception):
    pass


def form_body(payload: dict[str, object]) -> bytes:
    """The legacy Paysafecard notification: mtid, eventType, serialNumbers."""
    data = payload.get("data")
    assert isinstance(data, dict)
    serials = "".join(
        f"{c['serial']};{c['currency']};{c['amount']:.2f};{c['type']};"
        for c in data.get("card_details", [])
    )
    return urlencode(
        {
            # A payment's id, or for a payout the payout's own.
            "mtid": data.get("payment_id") or data.get("payout_id") or "",
            "eventType": payload["eventType"],
            "serialNumbers": serials,
        }
    ).encode()


async def _claim(session: AsyncSession, keyring: Keyring, limit: int) -> list[Outgoing]:
    now = clock.now()
    earlier = aliased(OutboxEvent)
    # Only the oldest pending event of a payment goes out: its successors wait their turn.
    waiting_behind = exists().where(
        earlier.payment_id == OutboxEvent.payment_id,
        earlier.status == PENDING,
        earlier.id < OutboxEvent.id,
    )
    query = (
        select(OutboxEvent, Merchant)
        .join(Merchant, Merchant.id == OutboxEvent.merchant_id)
        .where(OutboxEvent.status == PENDING, OutboxEvent.next_attempt_at <= now, ~waiting_behind)
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if dialect_name(session) == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxEvent)
    claimed = []
    for event, merchant in (await session.execute(query)).all():
        event.attempts += 1
        event.next_attempt_at = now + LEASE
        as_json = merchant.notification_format == "json"
        claimed.append(
            Outgoing(
                event.id,
                event.attempts,
                event.notification_url,
                json.dumps(event.payload).encode() if as_json else form_body(event.payload),
                "application/json" if as_json else "application/x-www-form-urlencoded",
                await webhook_secrets(session, keyring, merchant),
                merchant.mid,
            )
        )
    await session.flush()
    return claimed


async def check_destination(url: str, allow_private: bool) -> None:
    """Refuse loopback, link-local and private receivers: a merchant URL must not reach inside."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("not an http(s) URL")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError:
        raise DestinationRefused("destination host does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise DestinationRefused("destination address is not public")


async def _post(
    client: httpx.AsyncClient,
    item: Outgoing,
    allow_private: bool,
) -> tuple[int | None, str | None]:
    if not item.url:
        return None, "no notification_url"
    try:
        await check_destination(item.url, allow_private)
        response = await client.post(
            item.url,
            content=item.body,
            headers={
                "Content-Type": item.content_type,
                "User-Agent": USER_AGENT,
                webhooks.HEADER: webhooks.sign(
                    item.secrets, item.body, timestamp=int(clock.now().timestamp())
                ),
            },
        )
    except DestinationRefused as refused:
        return None, str(refused)
    except httpx.HTTPError as error:
        return None, type(error).__name__
    return response.status_code, None


def retry_delay(attempt: int, first: float) -> timedelta:
    """Exponential back-off with jitter, so that a recovering receiver is not hit all at once.

    The jitter only lengthens a delay: the schedule never ends sooner than the settings promise
    (8 attempts from 30 s: seven retries over more than an hour)."""
    base = min(timedelta(seconds=first * 2 ** (attempt - 1)), MAX_RETRY_DELAY)
    return base * random.uniform(1.0, 1.5)


async def _record(
    session: AsyncSession,
    runtime: Runtime,
    item: Outgoing,
    status: int | None,
    error: str | None,
    latency_ms: int,
) -> bool:
    now = clock.now()
    await session.execute(
        insert(WebhookAttempt).values(
            event_id=item.event_id,
            attempt=item.attempt,
            attempted_at=now,
            http_status=status,
            latency_ms=latency_ms,
            error=error,
        )
    )
    event = await session.get(OutboxEvent, item.event_id)
    assert event is not None
    delivered = status is not None and 200 <= status < 300
    if delivered:
        event.status, event.delivered_at = DELIVERED, now
    elif item.attempt >= runtime.settings.webhook_max_attempts:
        event.status = FAILED
        await audit.record(
            session,
            "notification.failed",
            outcome="alert",
            actor="worker",
            merchant_mid=item.merchant_mid,
            subject=f"event:{item.event_id}",
            reason=error or f"http_{status}",
        )
    else:
        event.next_attempt_at = now + retry_delay(
            item.attempt, runtime.settings.webhook_first_retry_seconds
        )
    return delivered


async def deliver_due(runtime: Runtime) -> int:
    """Worker duty: one round of deliveries; returns how many events were attempted."""
    async with runtime.transaction() as session:
        claimed = await _claim(session, runtime.keyring, runtime.settings.webhook_batch)
    if not claimed:
        return 0
    settings = runtime.settings
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        follow_redirects=False,
        transport=runtime.http_transport,
    ) as client:
        for item in claimed:
            started = time.perf_counter()
            status, error = await _post(client, item, settings.webhook_allow_private)
            latency = int((time.perf_counter() - started) * 1000)
            async with runtime.transaction() as session:
                delivered = await _record(session, runtime, item, status, error, latency)
            log.info(
                "notification.attempt",
                event_id=item.event_id,
                attempt=item.attempt,
                status=status,
                error=error,
                delivered=delivered,
                ms=latency,
            )
    return len(claimed)
