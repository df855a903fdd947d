from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime

UNVERIFIED, ACTIVE, LOCKED, ERASED = "UNVERIFIED", "ACTIVE", "LOCKED", "ERASED"


class CustomerAccount(Base):
    """A customer's wallet account. Personal data is sealed (AES-256-GCM, bound to the psc id)
    and the e-mail is found through a keyed hash; erasing removes all of it while the ledger
    keeps its entries under the pseudonymous psc id."""

    __tablename__ = "customer_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    psc_id: Mapped[str] = mapped_column(String(24), unique=True)
    email_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True, nullable=True)
    seal_kid: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    first_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    last_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    birth_date_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # argon2id; None for accounts opened by an operator until the customer sets one.
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(12))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WalletBalance(Base):
    """A wallet's balance in one currency: a column of one account, updated in the transaction
    of its journal entry (ledger account `wallet:<psc_id>`)."""

    __tablename__ = "wallet_balance"
    __table_args__ = (
        UniqueConstraint("account_id", "currency", name="uq_wallet_balance_account_currency"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailVerification(Base):
    """A link sent to confirm an e-mail address. Only the SHA-256 of its random token is kept:
    the database alone cannot confirm anyone's address."""

    __tablename__ = "customer_email_verification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CustomerSession(Base):
    """A login: the cookie holds a random token, the row only its SHA-256 (a copy of the table
    logs nobody in). No IP address or browser string is kept: they would be personal data."""

    __tablename__ = "customer_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
