"""vote codes: the current vote code of each voter (keyed hash)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.sqltypes

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vote_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issued_at", infra.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["voter_id"], ["voter.id"], name=op.f("fk_vote_code_voter_id_voter"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote_code")),
        sa.UniqueConstraint("voter_id", name=op.f("uq_vote_code_voter_id")),
    )


def downgrade() -> None:
    op.drop_table("vote_code")
