"""foundation: merchants, vouchers, ledger, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-25 01:11:01.347248
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pinpay.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Journal and audit rows are history: the database itself refuses to change or remove them.
APPEND_ONLY = ("journal_entry", "journal_line", "audit_record", "audit_seal")


def _refuse_update_and_delete(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION pinpay_refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001'; "
            "END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pinpay_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _allow_update_and_delete(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("floor_id", sa.BigInteger(), nullable=False),
        sa.Column("sign_kid", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_record",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("merchant_mid", sa.String(length=10), nullable=True),
        sa.Column("customer_id", sa.String(length=80), nullable=True),
        sa.Column("serial", sa.String(length=16), nullable=True),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
    )
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_record_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_record_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_record_merchant_mid"), ["merchant_mid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_record_serial"), ["serial"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_record_subject"), ["subject"], unique=False)

    op.create_table(
        "journal_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entry")),
    )
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_entry_reference"), ["reference"], unique=False)

    op.create_table(
        "merchant",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mid", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currencies", sa.JSON(), nullable=False),
        sa.Column("disposition_seconds", sa.Integer(), nullable=False),
        sa.Column("max_payment_minor", sa.BigInteger(), nullable=False),
        sa.Column("notification_format", sa.String(length=8), nullable=False),
        sa.Column("allowed_ips", sa.JSON(), nullable=False),
        sa.Column("direct_pins", sa.Boolean(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant")),
        sa.UniqueConstraint("mid", name=op.f("uq_merchant_mid")),
    )
    op.create_table(
        "voucher_batch",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_batch")),
    )
    op.create_table(
        "audit_seal",
        sa.Column(
            "record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["audit_record.id"], name=op.f("fk_audit_seal_record_id_audit_record")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_audit_seal")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_seal_seq")),
    )
    op.create_table(
        "journal_line",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_kind", sa.String(length=24), nullable=False),
        sa.Column("account_ref", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entry.id"], name=op.f("fk_journal_line_entry_id_journal_entry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_line")),
    )
    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_line_account", ["account_kind", "account_ref", "currency"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_journal_line_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "merchant_api_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_merchant_api_key_merchant_id_merchant")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_merchant_api_key_key_hash")),
    )
    with op.batch_alter_table("merchant_api_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_api_key_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "merchant_webhook_secret",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seal_kid", sa.String(length=40), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_merchant_webhook_secret_merchant_id_merchant"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_webhook_secret")),
    )
    with op.batch_alter_table("merchant_webhook_secret", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_webhook_secret_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "voucher",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial", sa.String(length=16), nullable=False),
        sa.Column("pin_lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pepper_kid", sa.String(length=40), nullable=False),
        sa.Column("pin_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("seal_kid", sa.String(length=40), nullable=True),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("type_code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", pinpay.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pinpay.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sign_kid", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.CheckConstraint("held >= 0", name=op.f("ck_voucher_held_not_negative")),
        sa.CheckConstraint(
            "remaining + held <= face_value", name=op.f("ck_voucher_value_within_face")
        ),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_voucher_remaining_not_negative")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["voucher_batch.id"], name=op.f("fk_voucher_batch_id_voucher_batch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher")),
        sa.UniqueConstraint("pin_lookup", name=op.f("uq_voucher_pin_lookup")),
        sa.UniqueConstraint("serial", name=op.f("uq_voucher_serial")),
    )
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voucher_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_voucher_status"), ["status"], unique=False)

    for table in APPEND_ONLY:
        _refuse_update_and_delete(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        _allow_update_and_delete(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pinpay_refuse_change()")
    with op.batch_alter_table("voucher", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voucher_status"))
        batch_op.drop_index(batch_op.f("ix_voucher_batch_id"))

    op.drop_table("voucher")
    with op.batch_alter_table("merchant_webhook_secret", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_webhook_secret_merchant_id"))

    op.drop_table("merchant_webhook_secret")
    with op.batch_alter_table("merchant_api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_api_key_merchant_id"))

    op.drop_table("merchant_api_key")
    with op.batch_alter_table("journal_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_line_entry_id"))
        batch_op.drop_index("ix_journal_line_account")

    op.drop_table("journal_line")
    op.drop_table("audit_seal")
    op.drop_table("voucher_batch")
    op.drop_table("merchant")
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entry_reference"))

    op.drop_table("journal_entry")
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_record_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_record_serial"))
        batch_op.drop_index(batch_op.f("ix_audit_record_merchant_mid"))
        batch_op.drop_index(batch_op.f("ix_audit_record_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_record_action"))

    op.drop_table("audit_record")
    op.drop_table("audit_chain_head")
