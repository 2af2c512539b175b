"""Portal initial schema: elections, rolls, ballot box, émargement, requests, outbox, ephemeral store.

The ballot table is keyed by a random UUID, holds no voter reference and no time, and is ``WITHOUT ROWID`` on
SQLite (no hidden rowid numbering ballots in casting order); see ``relying_party.models.ballot``.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from infra.sqltypes import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_ephemeral",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("idp_sid", sa.String(length=200), nullable=True),
        sa.Column("idp_sub", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_portal_ephemeral")),
    )
    op.create_index("ix_portal_ephemeral_expires_at", "portal_ephemeral", ["expires_at"])
    op.create_index("ix_portal_ephemeral_idp_sid", "portal_ephemeral", ["idp_sid"])
    op.create_index("ix_portal_ephemeral_idp_sub", "portal_ephemeral", ["idp_sub"])

    op.create_table(
        "portal_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_outbox")),
    )
    op.create_index("ix_portal_outbox_due", "portal_outbox", ["status", "next_attempt_at"])

    op.create_table(
        "portal_scrutin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=False),
        sa.Column("closes_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_portal_scrutin_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_scrutin")),
        sa.UniqueConstraint("code", name=op.f("uq_portal_scrutin_code")),
    )
    op.create_table(
        "portal_support_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("academie", sa.String(length=100), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("voter_identifier", sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_support_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_portal_support_request_reference")),
    )
    op.create_table(
        "portal_candidate_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("profession_de_foi", sa.LargeBinary(), nullable=True),
        sa.Column("profession_de_foi_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["scrutin_id"],
            ["portal_scrutin.id"],
            ondelete="CASCADE",
            name=op.f("fk_portal_candidate_list_scrutin_id_portal_scrutin"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_candidate_list")),
        sa.UniqueConstraint("scrutin_id", "id", name=op.f("uq_portal_candidate_list_scrutin_id_id")),
        sa.UniqueConstraint("scrutin_id", "position", name=op.f("uq_portal_candidate_list_scrutin_id_position")),
    )
    op.create_table(
        "portal_complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("voter_identifier", sa.String(length=254), nullable=False),
        sa.Column("scrutin_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id"],
            ["portal_scrutin.id"],
            ondelete="SET NULL",
            name=op.f("fk_portal_complaint_scrutin_id_portal_scrutin"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_complaint")),
        sa.UniqueConstraint("reference", name=op.f("uq_portal_complaint_reference")),
    )
    op.create_table(
        "portal_roll_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("voter_identifier", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id"],
            ["portal_scrutin.id"],
            ondelete="CASCADE",
            name=op.f("fk_portal_roll_entry_scrutin_id_portal_scrutin"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_roll_entry")),
        sa.UniqueConstraint(
            "scrutin_id", "voter_identifier", name=op.f("uq_portal_roll_entry_scrutin_id_voter_identifier")
        ),
    )
    op.create_index("ix_portal_roll_entry_voter_identifier", "portal_roll_entry", ["voter_identifier"])

    # The ballot box: random key, no voter, no time, no rowid on SQLite.
    op.create_table(
        "portal_ballot",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("candidate_list_id", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.String(length=32), nullable=False),
        sa.Column("mixed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id", "candidate_list_id"],
            ["portal_candidate_list.scrutin_id", "portal_candidate_list.id"],
            name="fk_portal_ballot_candidate_list",
        ),
        sa.ForeignKeyConstraint(
            ["scrutin_id"], ["portal_scrutin.id"], name=op.f("fk_portal_ballot_scrutin_id_portal_scrutin")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_ballot")),
        sa.UniqueConstraint("receipt", name=op.f("uq_portal_ballot_receipt")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "portal_candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("civility", sa.String(length=10), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["portal_candidate_list.id"],
            ondelete="CASCADE",
            name=op.f("fk_portal_candidate_list_id_portal_candidate_list"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_candidate")),
        sa.UniqueConstraint("list_id", "position", name=op.f("uq_portal_candidate_list_id_position")),
    )
    # One vote per voter and scrutin: the primary key, enforced by the database.
    op.create_table(
        "portal_emargement",
        sa.Column("scrutin_id", sa.Integer(), nullable=False),
        sa.Column("voter_identifier", sa.String(length=254), nullable=False),
        sa.Column("voted_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scrutin_id", "voter_identifier"],
            ["portal_roll_entry.scrutin_id", "portal_roll_entry.voter_identifier"],
            name="fk_portal_emargement_roll_entry",
        ),
        sa.ForeignKeyConstraint(
            ["scrutin_id"], ["portal_scrutin.id"], name=op.f("fk_portal_emargement_scrutin_id_portal_scrutin")
        ),
        sa.PrimaryKeyConstraint("scrutin_id", "voter_identifier", name=op.f("pk_portal_emargement")),
    )


def downgrade() -> None:
    for table in (
        "portal_emargement",
        "portal_candidate",
        "portal_ballot",
        "portal_roll_entry",
        "portal_complaint",
        "portal_candidate_list",
        "portal_support_request",
        "portal_scrutin",
        "portal_outbox",
        "portal_ephemeral",
    ):
        op.drop_table(table)
