from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pinpay.db import Base, BigId, UTCDateTime


class PinFailure(Base):
    """One wrong PIN, once per key it counts against (payment, customer, IP, device, ...).

    Keys are keyed hashes: an IP address or customer id is never stored in clear here.
    """

    __tablename__ = "pin_failure"
    __table_args__ = (Index("ix_pin_failure_key_time", "key_hash", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Lockout(Base):
    __tablename__ = "lockout"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # What kind of key (payment, customer, ip, device, merchant, global): for operators.
    kind: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    # How many times in a row this key was locked: each lockout lasts twice the one before.
    level: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
