from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("merchant_id", "correlation_id", name="uq_payment_merchant_correlation"),
        Index("ix_payment_merchant_listing", "merchant_id", "id"),
        # The expiry duty's scan: open payments whose deadline has passed.
        Index("ix_payment_open_deadline", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    correlation_id: Mapped[str | None] = mapped_column(String(41), nullable=True)
    # The hosted payment page's address is /pay/{page_token}: unguessable, unlike nothing else.
    page_token: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Value held from vouchers so far; the payment is AUTHORIZED when it equals `amount`.
    assigned: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    status_before_expiration: Mapped[str | None] = mapped_column(String(20), nullable=True)
    success_url: Mapped[str] = mapped_column(String(2048))
    failure_url: Mapped[str] = mapped_column(String(2048))
    notification_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    customer_id: Mapped[str] = mapped_column(String(80))
    customer_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kyc_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    country_restriction: Mapped[str | None] = mapped_column(String(2), nullable=True)
    submerchant_id: Mapped[str | None] = mapped_column(String(8), nullable=True)
    shop_id: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Deadline of the current state: authorization (30 min) or capture (disposition window).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardAssignment(Base):
    """Value a voucher gave to a payment: held until capture, then taken, or released."""

    __tablename__ = "payment_card"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("voucher.id"), index=True)
    serial: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    type_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10))  # HELD, CAPTURED, RELEASED
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletAssignment(Base):
    """Value a customer account gave to a payment, the wallet's counterpart of CardAssignment:
    held (ledger account `wallet_held:<psc_id>`) until capture, then taken, or released back."""

    __tablename__ = "payment_wallet"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))  # HELD, CAPTURED, RELEASED
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
