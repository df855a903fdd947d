"""Operator changes to a merchant: its settings and the rotation of its webhook secret."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay.audit import service as audit
from pinpay.errors import InvalidRequestParameter, NotFound
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.merchants import service
from pinpay.merchants.models import ApiKey, Merchant, SigningKey, WebhookSecret

# How long the previous webhook secret keeps signing after a rotation, so that receivers can
# switch over without dropping a notification.
ROTATION_OVERLAP = timedelta(hours=24)
STATUSES = ("ACTIVE", "INACTIVE")


class MerchantNotFound(NotFound):
    code = "merchant_not_found"
    default_message = "No merchant with that mid."


async def get(session: AsyncSession, mid: str, *, lock: bool = False) -> Merchant:
    query = select(Merchant).where(Merchant.mid == mid)
    merchant = await session.scalar(query.with_for_update() if lock else query)
    if merchant is None:
        raise MerchantNotFound()
    return merchant


async def rotate_webhook_secret(
    session: AsyncSession, keyring: Keyring, mid: str, *, actor: str = "operator"
) -> str:
    """A new secret signs from now on; the current ones keep signing for ROTATION_OVERLAP."""
    merchant = await get(session, mid, lock=True)
    now = clock.now()
    await session.execute(
        update(WebhookSecret)
        .where(
            WebhookSecret.merchant_id == merchant.id,
            (WebhookSecret.expires_at.is_(None))
            | (WebhookSecret.expires_at > now + ROTATION_OVERLAP),
        )
        .values(expires_at=now + ROTATION_OVERLAP)
    )
    secret = await service.add_webhook_secret(session, keyring, merchant)
    await audit.record(
        session,
        "merchant.webhook_secret_rotated",
        actor=actor,
        merchant_mid=mid,
        details={"previous_valid_until": (now + ROTATION_OVERLAP).isoformat()},
    )
    return secret


@dataclass(frozen=True)
class MerchantChanges:
    status: str | None = None
    direct_pins: bool | None = None
    disposition_seconds: int | None = None
    notification_format: str | None = None
    max_payment_minor: int | None = None
    allow_ips: list[str] | None = None
    basic_auth: bool | None = None
    require_signatures: bool | None = None


async def update_merchant(
    session: AsyncSession, mid: str, changes: MerchantChanges, *, actor: str = "operator"
) -> Merchant:
    merchant = await get(session, mid, lock=True)
    before = {
        "status": merchant.status,
        "direct_pins": merchant.direct_pins,
        "disposition_seconds": merchant.disposition_seconds,
        "notification_format": merchant.notification_format,
        "max_payment_minor": merchant.max_payment_minor,
        "allowed_ips": list(merchant.allowed_ips),
        "basic_auth": merchant.basic_auth,
        "require_signatures": merchant.require_signatures,
    }
    if changes.status is not None:
        if changes.status not in STATUSES:
            raise InvalidRequestParameter("status must be ACTIVE or INACTIVE", param="status")
        merchant.status = changes.status
    if changes.direct_pins is not None:
        merchant.direct_pins = changes.direct_pins
    if changes.disposition_seconds is not None:
        if not service.MIN_DISPOSITION <= changes.disposition_seconds <= service.MAX_DISPOSITION:
            raise InvalidRequestParameter(
                "disposition must be 60 to 600 seconds", param="disposition_seconds"
            )
        merchant.disposition_seconds = changes.disposition_seconds
    if changes.notification_format is not None:
        if changes.notification_format not in service.NOTIFICATION_FORMATS:
            raise InvalidRequestParameter(
                "notification format must be form or json", param="notification_format"
            )
        merchant.notification_format = changes.notification_format
    if changes.max_payment_minor is not None:
        if changes.max_payment_minor <= 0:
            raise InvalidRequestParameter("maximum must be above 0", param="max_payment")
        merchant.max_payment_minor = changes.max_payment_minor
    if changes.allow_ips is not None:
        merchant.allowed_ips = service.validated_networks(changes.allow_ips)
    if changes.basic_auth is not None:
        merchant.basic_auth = changes.basic_auth
    if changes.require_signatures is not None:
        await _check_can_require_signatures(session, merchant, changes.require_signatures)
        merchant.require_signatures = changes.require_signatures
    await session.flush()
    after = {key: getattr(merchant, key) for key in before}
    await audit.record(
        session,
        "merchant.update",
        actor=actor,
        merchant_mid=mid,
        details={k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]},
    )
    return merchant


async def _check_can_require_signatures(
    session: AsyncSession, merchant: Merchant, require: bool
) -> None:
    """Requiring signatures before a key is registered would lock the merchant out."""
    if require and not await session.scalar(
        select(SigningKey.id)
        .where(SigningKey.merchant_id == merchant.id, SigningKey.revoked_at.is_(None))
        .limit(1)
    ):
        raise InvalidRequestParameter(
            "register a signing key first (pinpay merchants add-signing-key)",
            param="require_signatures",
        )


async def api_keys(session: AsyncSession, mid: str) -> list[ApiKey]:
    merchant = await get(session, mid)
    return list(
        await session.scalars(
            select(ApiKey).where(ApiKey.merchant_id == merchant.id).order_by(ApiKey.id)
        )
    )


async def add_api_key(session: AsyncSession, mid: str) -> str:
    """One more active key (rotation: add, switch the integration over, revoke the old)."""
    return await service.add_api_key(session, await get(session, mid))


async def revoke_api_key(
    session: AsyncSession, mid: str, key_id: int, *, actor: str = "operator"
) -> ApiKey:
    merchant = await get(session, mid)
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.merchant_id == merchant.id)
    )
    if key is None:
        raise NotFound("No API key with that id for this merchant.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await session.flush()
        await audit.record(
            session,
            "merchant.api_key_revoked",
            actor=actor,
            merchant_mid=mid,
            details={"key_id": key_id, "hint": key.hint},
        )
    return key
