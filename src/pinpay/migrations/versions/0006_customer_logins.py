"""customer logins

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 02:06:53.373082
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_email_verification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_customer_email_verification_account_id_customer_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_email_verification")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_email_verification_token_hash")),
    )
    with op.batch_alter_table("customer_email_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_email_verification_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "customer_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_customer_session_account_id_customer_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_session_token_hash")),
    )
    with op.batch_alter_table("customer_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_session_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "payment_wallet",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["customer_account.id"],
            name=op.f("fk_payment_wallet_account_id_customer_account"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_wallet_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_wallet")),
    )
    with op.batch_alter_table("payment_wallet", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_wallet_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_wallet_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_wallet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_wallet_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_wallet_account_id"))

    op.drop_table("payment_wallet")
    with op.batch_alter_table("customer_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_session_account_id"))

    op.drop_table("customer_session")
    with op.batch_alter_table("customer_email_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_email_verification_account_id"))

    op.drop_table("customer_email_verification")
