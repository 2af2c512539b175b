"""turnout over time: the émargement indexed by (scrutin, voted_at)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:30:00

The operators' console draws each scrutin's turnout hour by hour (:func:`relying_party.turnout.over_time`): with
this index the count reads the index alone, not the table. It holds no more than the table does (who voted in which
scrutin, and when), and nothing of the ballot box.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portal_emargement_scrutin_id_voted_at", "portal_emargement", ["scrutin_id", "voted_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_emargement_scrutin_id_voted_at", table_name="portal_emargement")
