"""Portal audit log: append-only events in hash chains, in the IdP's format (``hashchain``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from infra.sqltypes import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_audit_event")),
        # One event per position of a chain: the database serialises two writers of the same chain.
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_portal_audit_event_chain_seq")),
    )
    op.create_index("ix_portal_audit_event_occurred_at", "portal_audit_event", ["occurred_at"])
    op.create_index("ix_portal_audit_event_type", "portal_audit_event", ["type"])
    op.create_index(op.f("ix_portal_audit_event_subject"), "portal_audit_event", ["subject"])


def downgrade() -> None:
    op.drop_table("portal_audit_event")
