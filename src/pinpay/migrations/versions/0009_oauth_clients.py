"""oauth clients (client credentials) and the merchant's switch for HTTP Basic

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 02:32:52.946915
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_api_client",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_merchant_api_client_merchant_id_merchant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_api_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_merchant_api_client_client_id")),
    )
    with op.batch_alter_table("merchant_api_client", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_api_client_merchant_id"), ["merchant_id"], unique=False
        )

    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("basic_auth", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_column("basic_auth")

    with op.batch_alter_table("merchant_api_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_api_client_merchant_id"))

    op.drop_table("merchant_api_client")
