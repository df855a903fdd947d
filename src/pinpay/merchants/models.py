from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pinpay.db import Base, BigId, UTCDateTime


class Merchant(Base):
    __tablename__ = "merchant"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mid: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    currencies: Mapped[list[str]] = mapped_column(JSON)
    # Seconds an AUTHORIZED payment waits for capture before its hold is released.
    disposition_seconds: Mapped[int] = mapped_column(Integer, default=600)
    max_payment_minor: Mapped[int] = mapped_column(BigInteger, default=100_000)
    # Payouts per UTC day and currency, in minor units (API.md 5, error 3166).
    payout_daily_limit_minor: Mapped[int] = mapped_column(
        BigInteger, default=100_000, server_default="100000"
    )
    notification_format: Mapped[str] = mapped_column(String(8), default="form")
    allowed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    direct_pins: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    api_keys: Mapped[list["ApiKey"]] = relationship(back_populates="merchant", lazy="raise")


class ApiKey(Base):
    """Only the SHA-256 of the key is kept: a 256-bit random key needs no slow hash."""

    __tablename__ = "merchant_api_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, enough to tell keys apart in a listing, never enough to use one.
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    merchant: Mapped[Merchant] = relationship(back_populates="api_keys", lazy="raise")


class WebhookSecret(Base):
    """Notification signing secrets, sealed because PinPay must read them back to sign."""

    __tablename__ = "merchant_webhook_secret"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    seal_kid: Mapped[str] = mapped_column(String(40))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when a newer secret replaces this one; both sign until then (rotation overlap).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
