from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime

VALIDATION_SUCCESSFUL, SUCCESS = "VALIDATION_SUCCESSFUL", "SUCCESS"
ACCOUNT, VOUCHER = "account", "voucher"  # where the refunded value goes


class Refund(Base):
    """Value a merchant gives back for a payment: to a customer account's wallet or, (ext), to a
    new voucher. VALIDATION_SUCCESSFUL moves nothing; SUCCESS has moved it from the merchant."""

    __tablename__ = "refund"
    __table_args__ = (
        UniqueConstraint("merchant_id", "correlation_id", name="uq_refund_merchant_correlation"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(80), unique=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(41), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[str] = mapped_column(String(80))
    destination: Mapped[str] = mapped_column(String(8))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_account.id"), nullable=True, index=True
    )
    # Which identifier the merchant named the account by ("email" or "psc_id"); the e-mail itself
    # is personal data and is never stored here.
    customer_lookup: Mapped[str | None] = mapped_column(String(8), nullable=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("voucher.id"), nullable=True)
    comment: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
