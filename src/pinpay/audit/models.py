from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime


class AuditRecord(Base):
    """Append-only: written in the request's transaction, never updated nor deleted.

    Only the primary key is indexed: the sealer and `pinpay audit verify` read records by id,
    and nothing in PinPay looks one up by any other column. Each further index took an entry
    per record, two per payment step, most at random places (serials, payment ids), for
    searches nobody made (dropped in migration 0011).
    """

    __tablename__ = "audit_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    merchant_mid: Mapped[str | None] = mapped_column(String(10), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    serial: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(80), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AuditSeal(Base):
    """A record's place in the SHA-256 chain. Kept apart so that records stay append-only."""

    __tablename__ = "audit_seal"

    record_id: Mapped[int] = mapped_column(ForeignKey("audit_record.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditChainHead(Base):
    """One row: the last sealed position, signed so that rewriting the whole chain shows.

    Only the sealer locks it, never a request. `floor_id` is a record id below which every
    record is sealed, so the sealer never rescans old history for stragglers.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    floor_id: Mapped[int] = mapped_column(BigInteger, default=0)
    sign_kid: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
