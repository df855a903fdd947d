"""Merchant accounts and their credentials: API keys shown once, webhook secrets sealed."""

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from pinpay import fastsql
from pinpay.audit import service as audit
from pinpay.errors import InvalidRequestParameter
from pinpay.kit import clock
from pinpay.kit.crypto import Keyring
from pinpay.kit.ids import random_digits
from pinpay.kit.money import parse_currency
from pinpay.merchants.models import ApiKey, Merchant, WebhookSecret

API_KEY_PREFIX = "pinpay_"
NOTIFICATION_FORMATS = ("form", "json")
MIN_DISPOSITION, MAX_DISPOSITION = 60, 600


@dataclass(frozen=True)
class NewMerchant:
    merchant: Merchant
    api_key: str
    webhook_secret: str


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def validated_networks(allow_ips: list[str]) -> list[str]:
    networks = []
    for cidr in allow_ips:
        try:
            networks.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
        except ValueError:
            raise InvalidRequestParameter(
                f"{cidr!r} is not an IP address or CIDR", param="allow_ip"
            ) from None
    return networks


async def _unused_mid(session: AsyncSession) -> str:
    while True:
        mid = str(secrets.randbelow(9) + 1) + random_digits(9)
        if await session.scalar(select(Merchant.id).where(Merchant.mid == mid)) is None:
            return mid


async def add_api_key(session: AsyncSession, merchant: Merchant) -> str:
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            merchant_id=merchant.id,
            key_hash=hash_api_key(api_key),
            hint=api_key[: len(API_KEY_PREFIX) + 4],
            created_at=clock.now(),
        )
    )
    await session.flush()
    await audit.record(session, "merchant.api_key_created", merchant_mid=merchant.mid)
    return api_key


async def add_webhook_secret(session: AsyncSession, keyring: Keyring, merchant: Merchant) -> str:
    secret = "whsec_" + secrets.token_urlsafe(32)
    kid, sealed = keyring.seal(secret.encode(), f"webhook:{merchant.mid}".encode())
    session.add(
        WebhookSecret(merchant_id=merchant.id, seal_kid=kid, sealed=sealed, created_at=clock.now())
    )
    await session.flush()
    return secret


async def create_merchant(
    session: AsyncSession,
    keyring: Keyring,
    *,
    name: str,
    currencies: list[str] | None = None,
    allow_ips: list[str] | None = None,
    disposition_seconds: int = 600,
    notification_format: str = "form",
    actor: str = "operator",
) -> NewMerchant:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequestParameter("name must be 1 to 200 characters", param="name")
    codes = sorted({parse_currency(c.upper()) for c in (currencies or ["EUR"])})
    if not MIN_DISPOSITION <= disposition_seconds <= MAX_DISPOSITION:
        raise InvalidRequestParameter(
            f"disposition must be {MIN_DISPOSITION} to {MAX_DISPOSITION} seconds",
            param="disposition_seconds",
        )
    if notification_format not in NOTIFICATION_FORMATS:
        raise InvalidRequestParameter(
            "notification format must be form or json", param="notification_format"
        )
    merchant = Merchant(
        mid=await _unused_mid(session),
        name=name,
        status="ACTIVE",
        currencies=codes,
        disposition_seconds=disposition_seconds,
        max_payment_minor=100_000,
        notification_format=notification_format,
        allowed_ips=validated_networks(allow_ips or []),
        direct_pins=True,
        created_at=clock.now(),
    )
    session.add(merchant)
    await session.flush()
    await audit.record(
        session,
        "merchant.create",
        actor=actor,
        merchant_mid=merchant.mid,
        details={"name": name, "currencies": codes},
    )
    api_key = await add_api_key(session, merchant)
    webhook_secret = await add_webhook_secret(session, keyring, merchant)
    return NewMerchant(merchant, api_key, webhook_secret)


# Built once: every API call runs it, and SQLAlchemy would otherwise rebuild it each time.
_BY_API_KEY = (
    select(*cast(Table, Merchant.__table__).c)
    .join(ApiKey, ApiKey.merchant_id == Merchant.id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


async def merchant_for_api_key(session: AsyncSession, api_key: str) -> Merchant | None:
    return await fastsql.load(session, Merchant, _BY_API_KEY, {"key_hash": hash_api_key(api_key)})


async def get_by_mid(session: AsyncSession, mid: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.mid == mid))


async def webhook_secrets(
    session: AsyncSession,
    keyring: Keyring,
    merchant: Merchant,
) -> list[str]:
    """Every secret that signs now: the newest, plus an older one still inside its overlap."""
    rows = await session.scalars(
        select(WebhookSecret)
        .where(WebhookSecret.merchant_id == merchant.id)
        .order_by(WebhookSecret.id.desc())
    )
    now = clock.now()
    return [
        keyring.open(row.seal_kid, row.sealed, f"webhook:{merchant.mid}".encode()).decode()
        for row in rows
        if row.expires_at is None or row.expires_at > now
    ]
