"""Ephemeral store: the suite's table layout (infra.store.sql), shared with the IdP and the auditors' console.

Expiry becomes seconds since the epoch and the tags ``idp_sid``/``idp_sub`` become ``sid``/``sub``, indexed only where
set. The table holds only short-lived entries (sessions, receipts shown once, the logout-token replay cache), so it
is re-created rather than converted: voters signed in to the portal during the upgrade sign in again, which their
IdP session makes immediate.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from infra.sqltypes import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "portal_ephemeral"


def _drop(tag_columns: tuple[str, str]) -> None:
    op.drop_index(f"ix_{TABLE}_expires_at", table_name=TABLE)
    for column in tag_columns:
        op.drop_index(f"ix_{TABLE}_{column}", table_name=TABLE)
    op.drop_table(TABLE)


def upgrade() -> None:
    _drop(("idp_sid", "idp_sub"))
    op.create_table(
        TABLE,
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("sid", sa.String(length=200), nullable=True),
        sa.Column("sub", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(f"ix_{TABLE}_expires_at", TABLE, ["expires_at"])
    for column in ("sid", "sub"):
        op.create_index(
            f"ix_{TABLE}_{column}",
            TABLE,
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    _drop(("sid", "sub"))
    op.create_table(
        TABLE,
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("idp_sid", sa.String(length=200), nullable=True),
        sa.Column("idp_sub", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(f"ix_{TABLE}_expires_at", TABLE, ["expires_at"])
    op.create_index(f"ix_{TABLE}_idp_sid", TABLE, ["idp_sid"])
    op.create_index(f"ix_{TABLE}_idp_sub", TABLE, ["idp_sub"])
