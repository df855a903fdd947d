"""customer accounts and wallets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 02:02:38.724480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_account",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("psc_id", sa.String(length=24), nullable=False),
        sa.Column("email_lookup", sa.LargeBinary(length=32), nullable=True),
        sa.Column("seal_kid", sa.String(length=40), nullable=True),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("first_name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("last_name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("birth_date_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("email_verified_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_account")),
        sa.UniqueConstraint("email_lookup", name=op.f("uq_customer_account_email_lookup")),
        sa.UniqueConstraint("psc_id", name=op.f("uq_customer_account_psc_id")),
    )
    op.create_table(
        "wallet_balance",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_wallet_balance_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_wallet_balance_account_id_customer_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_balance")),
        sa.UniqueConstraint("account_id", "currency", name="uq_wallet_balance_account_currency"),
    )


def downgrade() -> None:
    op.drop_table("wallet_balance")
    op.drop_table("customer_account")
