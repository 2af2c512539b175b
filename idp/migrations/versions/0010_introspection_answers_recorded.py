"""tokens remember which introspection answers the audit log already holds

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:45:00

A resource server introspects the access token of every call it receives. ``token.introspected`` is recorded the
first time a client is told its token is active, and the first time it is told the token is inactive (revoked,
expired, rotated): each column holds when that answer was first recorded, set in the transaction that appends the
event (a conditional ``UPDATE``: of two concurrent introspections one only records). Existing tokens start with
neither: their next introspection is recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.sqltypes

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("introspected_active_at", "introspected_inactive_at")


def upgrade() -> None:
    with op.batch_alter_table("oidc_token", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, infra.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_token", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.drop_column(name)
