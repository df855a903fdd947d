from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime

# Account kinds whose balance is a row's column (voucher.remaining, voucher.held): nothing looks
# one of these accounts up in the journal (`pinpay audit verify` reads them all at once), so on
# PostgreSQL the account index leaves them out and a voucher's movement adds no entry at a
# random place in it. Queries that need the index name their kinds as literals
# (`ledger.service.kind_is`) so that the planner can prove the predicate. SQLite keeps the whole
# index: its planner only matches a partial index whose condition the query repeats.
ROW_BALANCE_KINDS = ("voucher", "voucher_held")
_LOOKED_UP_KINDS = text(
    "account_kind NOT IN ({})".format(", ".join(f"'{kind}'" for kind in ROW_BALANCE_KINDS))
)


class JournalEntry(Base):
    """An immutable accounting event; its lines sum to zero per currency."""

    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    # What caused it: a payment id, a batch, a serial. Never personal data. Not indexed: only
    # read with its entry (a wallet's history), never searched by.
    reference: Mapped[str | None] = mapped_column(String(80), nullable=True)


class JournalLine(Base):
    """One leg of an entry. An account is (kind, ref, currency); a positive amount adds value."""

    __tablename__ = "journal_line"
    __table_args__ = (
        Index(
            "ix_journal_line_account",
            "account_kind",
            "account_ref",
            "currency",
            postgresql_where=_LOOKED_UP_KINDS,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Not indexed: lines are found by account, entries by id; journal rows are never deleted
    # (a trigger refuses it), so the foreign key never needs to search this column.
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    account_kind: Mapped[str] = mapped_column(String(24))
    account_ref: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
