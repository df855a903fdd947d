"""refunds and payouts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 02:09:45.153676
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=80), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("correlation_id", sa.String(length=41), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("customer_lookup", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.String(length=255), nullable=True),
        sa.Column("notification_url", sa.String(length=2048), nullable=True),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("captured_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_payout_account_id_customer_account"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_payout_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout")),
        sa.UniqueConstraint("merchant_id", "correlation_id", name="uq_payout_merchant_correlation"),
        sa.UniqueConstraint("public_id", name=op.f("uq_payout_public_id")),
    )
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            "ix_payout_merchant_daily",
            ["merchant_id", "currency", "status", "captured_at"],
            unique=False,
        )

    op.create_table(
        "payout_binding",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_payout_binding_account_id_customer_account"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_payout_binding_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_binding")),
        sa.UniqueConstraint("merchant_id", "account_id", name="uq_payout_binding_account"),
        sa.UniqueConstraint("merchant_id", "customer_id", name="uq_payout_binding_customer"),
    )
    with op.batch_alter_table("payout_binding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payout_binding_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "refund",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=80), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("correlation_id", sa.String(length=41), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("destination", sa.String(length=8), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("customer_lookup", sa.String(length=8), nullable=True),
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("comment", sa.String(length=255), nullable=True),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_refund_account_id_customer_account"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_refund_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_refund_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["voucher.id"], name=op.f("fk_refund_voucher_id_voucher")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("merchant_id", "correlation_id", name="uq_refund_merchant_correlation"),
        sa.UniqueConstraint("public_id", name=op.f("uq_refund_public_id")),
    )
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refund_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refund_payment_id"), ["payment_id"], unique=False)

    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "payout_daily_limit_minor", sa.BigInteger(), server_default="100000", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_column("payout_daily_limit_minor")

    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refund_payment_id"))
        batch_op.drop_index(batch_op.f("ix_refund_account_id"))

    op.drop_table("refund")
    with op.batch_alter_table("payout_binding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payout_binding_account_id"))

    op.drop_table("payout_binding")
    with op.batch_alter_table("payout", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_merchant_daily")
        batch_op.drop_index(batch_op.f("ix_payout_account_id"))

    op.drop_table("payout")
