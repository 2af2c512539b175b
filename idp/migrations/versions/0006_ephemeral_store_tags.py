"""Ephemeral store: the suite's table layout, with the session and subject tags (infra.store.sql).

The IdP's table gains the two nullable tag columns every ephemeral table has, indexed only where set. Rows are kept.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ephemeral_entry") as batch:
        batch.add_column(sa.Column("sid", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("sub", sa.String(length=200), nullable=True))
    for column in ("sid", "sub"):
        op.create_index(
            f"ix_ephemeral_entry_{column}",
            "ephemeral_entry",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in ("sid", "sub"):
        op.drop_index(f"ix_ephemeral_entry_{column}", table_name="ephemeral_entry")
    with op.batch_alter_table("ephemeral_entry") as batch:
        batch.drop_column("sub")
        batch.drop_column("sid")
