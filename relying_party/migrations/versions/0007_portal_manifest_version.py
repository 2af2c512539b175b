"""the election manifest's version per scrutin: the format of its ballots' proofs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:00:00

Format 2 (128-bit challenges in the ballots' proofs) is for the scrutins created from now on; a scrutin that exists
already keeps format 1, since its election hash, and every ballot's proofs bound to it, cover the version. The column
is added with the server default 1 (every existing scrutin); the portal's model writes the current format for new
ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("portal_scrutin", sa.Column("manifest_version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("portal_scrutin") as batch:
        batch.drop_column("manifest_version")
