"""The encrypted ballot box: ballots as ciphertexts and proofs keyed by their tracking code; the émargement keeps
the sealed receipt; the tally's aggregate and the trustees' partial decryptions.

Ballots stored in clear by the earlier schema cannot be encrypted after the fact: the upgrade refuses to run while
``portal_ballot`` holds any (a development database: delete it, e.g. ``rm instance/portal.sqlite3*`` for the demo).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from relying_party.models.base import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM portal_ballot")).scalar_one():
        raise RuntimeError(
            "portal_ballot holds ballots in clear, which cannot be encrypted after the fact: this upgrade refuses to "
            "drop them. On a development database, delete it (demo: rm instance/portal.sqlite3*) and start again."
        )
    op.drop_table("portal_ballot")
    op.create_table(
        "portal_ballot",
        sa.Column("tracking_code", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("ciphertexts", sa.LargeBinary(), nullable=False),
        sa.Column("proofs", sa.LargeBinary(), nullable=False),
        sa.Column("mixed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id"], ["portal_scrutin.id"], name=op.f("fk_portal_ballot_scrutin_id_portal_scrutin")
        ),
        sa.PrimaryKeyConstraint("tracking_code", name=op.f("pk_portal_ballot")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_portal_ballot_scrutin_id"), "portal_ballot", ["scrutin_id"])
    op.add_column("portal_emargement", sa.Column("receipt", sa.LargeBinary(), nullable=True))
    op.create_table(
        "portal_tally",
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.LargeBinary(length=32), nullable=False),
        sa.Column("aggregate", sa.LargeBinary(), nullable=False),
        sa.Column("ballots", sa.Integer(), nullable=False),
        sa.Column("emargements", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("decrypted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scrutin_id"], ["portal_scrutin.id"], name=op.f("fk_portal_tally_scrutin_id_portal_scrutin")
        ),
        sa.PrimaryKeyConstraint("scrutin_id", name=op.f("pk_portal_tally")),
    )
    op.create_table(
        "portal_partial_decryption",
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("trustee", sa.Integer(), nullable=False),
        sa.Column("shares", sa.LargeBinary(), nullable=False),
        sa.Column("proofs", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id"],
            ["portal_tally.scrutin_id"],
            name=op.f("fk_portal_partial_decryption_scrutin_id_portal_tally"),
        ),
        sa.PrimaryKeyConstraint("scrutin_id", "trustee", name=op.f("pk_portal_partial_decryption")),
    )


def downgrade() -> None:
    op.drop_table("portal_partial_decryption")
    op.drop_table("portal_tally")
    with op.batch_alter_table("portal_emargement") as batch:
        batch.drop_column("receipt")
    raise RuntimeError("the encrypted ballot box cannot be downgraded to ballots in clear")
