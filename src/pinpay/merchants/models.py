from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
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
    # HTTP Basic with an API key; a merchant on OAuth tokens only switches it off.
    basic_auth: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    # Every API call must carry an HTTP Message Signature (RFC 9421) by a registered key.
    require_signatures: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
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


class SigningKey(Base):
    """A merchant's public key for signed requests (RFC 9421), named by the merchant's key id."""

    __tablename__ = "merchant_signing_key"
    __table_args__ = (UniqueConstraint("merchant_id", "key_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(100))
    # "ed25519" or "ecdsa-p256-sha256" (the RFC 9421 algorithm names).
    algorithm: Mapped[str] = mapped_column(String(24))
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignatureNonce(Base):
    """A nonce seen in a signed request, kept until its signature could no longer be accepted;
    the worker purges the expired ones."""

    __tablename__ = "merchant_signature_nonce"
    __table_args__ = (UniqueConstraint("merchant_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    nonce: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiClient(Base):
    """An OAuth 2.0 client (client credentials grant) of a merchant. Like an API key, only the
    SHA-256 of its 256-bit random secret is kept; `scopes` bounds what its tokens may do."""

    __tablename__ = "merchant_api_client"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
