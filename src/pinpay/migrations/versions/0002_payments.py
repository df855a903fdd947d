"""payments, idempotency, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:18:11.285249
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_idempotency_key_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("merchant_id", "key", name="uq_idempotency_merchant_key"),
    )
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_key_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_id", sa.String(length=80), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("correlation_id", sa.String(length=41), nullable=True),
        sa.Column("page_token", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("assigned", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_before_expiration", sa.String(length=20), nullable=True),
        sa.Column("success_url", sa.String(length=2048), nullable=False),
        sa.Column("failure_url", sa.String(length=2048), nullable=False),
        sa.Column("notification_url", sa.String(length=2048), nullable=True),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("customer_ip", sa.String(length=45), nullable=True),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("kyc_level", sa.String(length=16), nullable=True),
        sa.Column("country_restriction", sa.String(length=2), nullable=True),
        sa.Column("submerchant_id", sa.String(length=8), nullable=True),
        sa.Column("shop_id", sa.String(length=60), nullable=True),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_payment_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint(
            "merchant_id", "correlation_id", name="uq_payment_merchant_correlation"
        ),
        sa.UniqueConstraint("page_token", name=op.f("uq_payment_page_token")),
        sa.UniqueConstraint("public_id", name=op.f("uq_payment_public_id")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index("ix_payment_merchant_listing", ["merchant_id", "id"], unique=False)
        batch_op.create_index("ix_payment_open_deadline", ["status", "expires_at"], unique=False)

    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("notification_url", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_outbox_event_merchant_id_merchant")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_outbox_event_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_event_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_event_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_event_payment_id"), ["payment_id"], unique=False
        )

    op.create_table(
        "payment_card",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "voucher_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("serial", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("type_code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_card_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["voucher_id"], ["voucher.id"], name=op.f("fk_payment_card_voucher_id_voucher")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_card")),
    )
    with op.batch_alter_table("payment_card", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_card_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_card_voucher_id"), ["voucher_id"], unique=False
        )

    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_movement", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.drop_column("last_movement")

    with op.batch_alter_table("payment_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_card_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_payment_card_payment_id"))

    op.drop_table("payment_card")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_payment_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_merchant_id"))
        batch_op.drop_index("ix_outbox_event_due")

    op.drop_table("outbox_event")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_open_deadline")
        batch_op.drop_index("ix_payment_merchant_listing")

    op.drop_table("payment")
    with op.batch_alter_table("idempotency_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_key_expires_at"))

    op.drop_table("idempotency_key")
