from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime

ACTIVE, FROZEN, DEPLETED, EXPIRED, VOID = "ACTIVE", "FROZEN", "DEPLETED", "EXPIRED", "VOID"
STATUSES = (ACTIVE, FROZEN, DEPLETED, EXPIRED, VOID)


class VoucherBatch(Base):
    __tablename__ = "voucher_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    face_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class Voucher(Base):
    """A prepaid voucher. The PIN itself is never stored: only its keyed hash and, optionally,
    an AES-256-GCM seal bound to the serial for support re-prints."""

    __tablename__ = "voucher"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("remaining + held <= face_value", name="value_within_face"),
        # Room on each page so that a hold, capture or release, which changes no indexed
        # column, is a HOT update: the new version stays on the page and no index gets an
        # entry. At 100 a freshly issued page is full and its first update must move the row.
        {"postgresql_with": {"fillfactor": 90}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(16), unique=True)
    pin_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    pepper_kid: Mapped[str] = mapped_column(String(40))
    pin_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    seal_kid: Mapped[str | None] = mapped_column(String(40), nullable=True)
    face_value: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    # What the latest hold took: an UPDATE that takes "up to x" can only report the amount it
    # moved through a column it sets (RETURNING sees the new row), so the hot path stays one
    # statement instead of a read and a write.
    last_movement: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    type_code: Mapped[str] = mapped_column(String(8), default="00001")
    # Not indexed: vouchers are found by PIN, serial or id, and status is then one more
    # condition; an index here made every change of status (using a voucher up) a non-HOT update.
    status: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not indexed: nothing looks vouchers up by batch, and batches are never deleted.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_batch.id"), nullable=True)
    sign_kid: Mapped[str] = mapped_column(String(40))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
