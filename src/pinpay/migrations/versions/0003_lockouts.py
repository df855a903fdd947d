"""fraud: pin failures and lockouts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 01:22:34.859150
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lockout",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("until", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lockout")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_lockout_key_hash")),
    )
    op.create_table(
        "pin_failure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pin_failure")),
    )
    with op.batch_alter_table("pin_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pin_failure_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_pin_failure_key_time", ["key_hash", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pin_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_pin_failure_key_time")
        batch_op.drop_index(batch_op.f("ix_pin_failure_created_at"))

    op.drop_table("pin_failure")
    op.drop_table("lockout")
