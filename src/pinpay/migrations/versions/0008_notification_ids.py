"""notifications get public ids (what merchants list and resend by)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 02:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    # Events written before this revision get an id derived from their row id: unique, and
    # only ever shown to the merchant they belong to.
    op.execute("UPDATE outbox_event SET public_id = 'evt_legacy_' || id WHERE public_id IS NULL")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_event_public_id"), ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_event_public_id"), type_="unique")
        batch_op.drop_column("public_id")
