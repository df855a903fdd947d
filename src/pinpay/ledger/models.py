from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime


class JournalEntry(Base):
    """An immutable accounting event; its lines sum to zero per currency."""

    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    # What caused it: a payment id, a batch, a serial. Searchable, never personal data.
    reference: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)


class JournalLine(Base):
    """One leg of an entry. An account is (kind, ref, currency); a positive amount adds value."""

    __tablename__ = "journal_line"
    __table_args__ = (Index("ix_journal_line_account", "account_kind", "account_ref", "currency"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    account_kind: Mapped[str] = mapped_column(String(24))
    account_ref: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
