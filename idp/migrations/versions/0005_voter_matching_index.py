"""Index of the FranceConnect matching: voters by birth date and birthplace.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The federation's matching (idp.federation.matching) filters voters on these two columns; without the index
    # every federated sign-in scans the whole voter table.
    op.create_index("ix_voter_birth_date_birthplace", "voter", ["birth_date", "birthplace"])


def downgrade() -> None:
    op.drop_index("ix_voter_birth_date_birthplace", table_name="voter")
