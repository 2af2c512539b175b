"""audit events by type over time: the index the operators' console reads through

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 08:30:00

The console counts events of a few types over a recent window (sign-ins per minute, lockouts, the réassort funnel,
delivery outcomes; :mod:`idp.operations`). With ``(type, occurred_at)`` each count is a range scan of the rows it
counts, whatever the size of the log; the index on ``type`` alone is kept for the auditors' filters.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_type_occurred_at", "audit_event", ["type", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_type_occurred_at", table_name="audit_event")
