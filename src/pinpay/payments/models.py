from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime
from pinpay.payments.states import UNFINISHED

# The payments the expiry duty may still expire, as SQL: the condition of its index, which its
# query repeats in literal form (`service.expire_due`) so that both planners can use the index.
UNFINISHED_SQL = "status IN ({})".format(", ".join(f"'{status}'" for status in UNFINISHED))


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("merchant_id", "correlation_id", name="uq_payment_merchant_correlation"),
        Index("ix_payment_merchant_listing", "merchant_id", "id"),
        # The expiry duty's scan: unfinished payments, by deadline, in the order it wants them.
        # Partial, so that a payment moving to a final status (capture, cancel, expiry) adds no
        # entry, and vacuum leaves only the payments still open in it. No update of status can
        # be HOT while the duty has an index (a condition's columns count as indexed), and
        # assigning PINs changes the deadline too: the price of finding due payments at once.
        Index(
            "ix_payment_open_deadline",
            "expires_at",
            postgresql_where=text(UNFINISHED_SQL),
            sqlite_where=text(UNFINISHED_SQL),
        ),
        # Room on each page for the new version of an updated row (assigned, captured; never
        # HOT, see above) to stay there: one page dirtied, not two, and PostgreSQL then logs
        # only the changed bytes of the row instead of all of it.
        {"postgresql_with": {"fillfactor": 90}},
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
    # Not indexed: cards are always found by payment, and vouchers are never deleted, so the
    # foreign key never needs to search this column.
    voucher_id: Mapped[int] = mapped_column(ForeignKey("voucher.id"))
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
