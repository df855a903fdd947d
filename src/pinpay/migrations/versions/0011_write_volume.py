"""write volume: indexes nothing reads dropped, partial where queries read part, fillfactor

A PIN assignment and a capture each insert two audit records, a journal entry with two lines and
update a voucher and a payment; every index on those tables took an entry per row, and every
update that could not be HOT took one in each index of its table. Dropped: the indexes no query
uses (five on audit_record, journal_entry.reference, journal_line.entry_id,
payment_card.voucher_id, voucher.status and voucher.batch_id). Made partial: the expiry duty's
index (unfinished payments only) and, on PostgreSQL, the journal's account index (without the
per-voucher accounts, whose balances are columns). Fillfactor 90 on voucher and payment
(PostgreSQL) leaves room for updated rows to stay on their page; it applies to pages filled from
now on (`VACUUM FULL voucher, payment` or pg_repack rewrites the old ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# (index, table, columns) of the plain indexes this revision drops and its downgrade restores.
DROPPED = (
    ("ix_audit_record_action", "audit_record", ["action"]),
    ("ix_audit_record_created_at", "audit_record", ["created_at"]),
    ("ix_audit_record_merchant_mid", "audit_record", ["merchant_mid"]),
    ("ix_audit_record_serial", "audit_record", ["serial"]),
    ("ix_audit_record_subject", "audit_record", ["subject"]),
    ("ix_journal_entry_reference", "journal_entry", ["reference"]),
    ("ix_journal_line_entry_id", "journal_line", ["entry_id"]),
    ("ix_payment_card_voucher_id", "payment_card", ["voucher_id"]),
    ("ix_voucher_status", "voucher", ["status"]),
    ("ix_voucher_batch_id", "voucher", ["batch_id"]),
)
# Frozen here, not imported: payments.models.UNFINISHED_SQL and ledger.models say the same now.
UNFINISHED = sa.text("status IN ('INITIATED', 'REDIRECTED', 'AUTHORIZED')")
LOOKED_UP_KINDS = sa.text("account_kind NOT IN ('voucher', 'voucher_held')")
ACCOUNT_COLUMNS = ["account_kind", "account_ref", "currency"]
FILLFACTOR = {"voucher": 90, "payment": 90}


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)

    op.drop_index("ix_payment_open_deadline", table_name="payment")
    op.create_index(
        "ix_payment_open_deadline",
        "payment",
        ["expires_at"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )

    if _postgres():
        op.drop_index("ix_journal_line_account", table_name="journal_line")
        op.create_index(
            "ix_journal_line_account",
            "journal_line",
            ACCOUNT_COLUMNS,
            postgresql_where=LOOKED_UP_KINDS,
        )
        for table, fillfactor in FILLFACTOR.items():
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")


def downgrade() -> None:
    if _postgres():
        for table in FILLFACTOR:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        op.drop_index("ix_journal_line_account", table_name="journal_line")
        op.create_index("ix_journal_line_account", "journal_line", ACCOUNT_COLUMNS)

    op.drop_index("ix_payment_open_deadline", table_name="payment")
    op.create_index("ix_payment_open_deadline", "payment", ["status", "expires_at"])

    for name, table, columns in DROPPED:
        op.create_index(name, table, columns)
