"""signed requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 02:34:26.712744
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_signature_nonce",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_merchant_signature_nonce_merchant_id_merchant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_signature_nonce")),
        sa.UniqueConstraint(
            "merchant_id", "nonce", name=op.f("uq_merchant_signature_nonce_merchant_id")
        ),
    )
    with op.batch_alter_table("merchant_signature_nonce", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_signature_nonce_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "merchant_signing_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key_id", sa.String(length=100), nullable=False),
        sa.Column("algorithm", sa.String(length=24), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_merchant_signing_key_merchant_id_merchant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_signing_key")),
        sa.UniqueConstraint(
            "merchant_id", "key_id", name=op.f("uq_merchant_signing_key_merchant_id")
        ),
    )
    with op.batch_alter_table("merchant_signing_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_signing_key_merchant_id"), ["merchant_id"], unique=False
        )

    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_signatures", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_column("require_signatures")

    with op.batch_alter_table("merchant_signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_signing_key_merchant_id"))

    op.drop_table("merchant_signing_key")
    with op.batch_alter_table("merchant_signature_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_signature_nonce_expires_at"))

    op.drop_table("merchant_signature_nonce")
