from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime

VALIDATION_SUCCESSFUL, SUCCESS = "VALIDATION_SUCCESSFUL", "SUCCESS"


class Payout(Base):
    """Value a merchant sends to a customer account's wallet, out of what PinPay owes it."""

    __tablename__ = "payout"
    __table_args__ = (
        UniqueConstraint("merchant_id", "correlation_id", name="uq_payout_merchant_correlation"),
        # The daily limit's sum: a merchant's captured payouts of one currency since midnight.
        Index("ix_payout_merchant_daily", "merchant_id", "currency", "status", "captured_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    correlation_id: Mapped[str | None] = mapped_column(String(41), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"), index=True)
    # "email" or "psc_id": how the merchant named the account (the e-mail itself is not kept).
    customer_lookup: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(String(255), nullable=True)
    notification_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PayoutBinding(Base):
    """The first payout ties the merchant's customer id to one account, both ways (3197/3198)."""

    __tablename__ = "payout_binding"
    __table_args__ = (
        UniqueConstraint("merchant_id", "customer_id", name="uq_payout_binding_customer"),
        UniqueConstraint("merchant_id", "account_id", name="uq_payout_binding_account"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    customer_id: Mapped[str] = mapped_column(String(80))
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
