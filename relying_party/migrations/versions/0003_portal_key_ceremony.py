"""Key ceremonies: trustees, their public commitments and sealed shares; scrutins name the ceremony they use.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from infra.sqltypes import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_key_ceremony",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("uid", sa.LargeBinary(length=32), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("trustee_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "threshold >= 1 AND threshold <= trustee_count", name=op.f("ck_portal_key_ceremony_threshold")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_key_ceremony")),
        sa.UniqueConstraint("code", name=op.f("uq_portal_key_ceremony_code")),
        sa.UniqueConstraint("uid", name=op.f("uq_portal_key_ceremony_uid")),
    )
    op.create_table(
        "portal_trustee",
        sa.Column("ceremony_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("box_key", sa.LargeBinary(length=32), nullable=True),
        sa.Column("commitments", sa.LargeBinary(), nullable=True),
        sa.Column("proofs", sa.LargeBinary(), nullable=True),
        sa.Column("transcript", sa.LargeBinary(length=32), nullable=True),
        sa.Column("public_share", sa.LargeBinary(length=32), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ceremony_id"],
            ["portal_key_ceremony.id"],
            name=op.f("fk_portal_trustee_ceremony_id_portal_key_ceremony"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ceremony_id", "position", name=op.f("pk_portal_trustee")),
    )
    op.create_table(
        "portal_trustee_share",
        sa.Column("ceremony_id", sa.Integer(), nullable=False),
        sa.Column("dealer", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ceremony_id"],
            ["portal_key_ceremony.id"],
            name=op.f("fk_portal_trustee_share_ceremony_id_portal_key_ceremony"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ceremony_id", "dealer", "recipient", name=op.f("pk_portal_trustee_share")),
    )
    # SQLite: a plain ADD COLUMN with its reference (accepted for a nullable column). A batch rebuild would drop
    # portal_scrutin, and with foreign keys on, cascade to its lists.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE portal_scrutin ADD COLUMN key_ceremony_id INTEGER "
            "CONSTRAINT fk_portal_scrutin_key_ceremony_id_portal_key_ceremony REFERENCES portal_key_ceremony (id)"
        )
    else:
        op.add_column("portal_scrutin", sa.Column("key_ceremony_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_portal_scrutin_key_ceremony_id_portal_key_ceremony"),
            "portal_scrutin",
            "portal_key_ceremony",
            ["key_ceremony_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_scrutin") as batch:
        batch.drop_constraint(op.f("fk_portal_scrutin_key_ceremony_id_portal_key_ceremony"), type_="foreignkey")
        batch.drop_column("key_ceremony_id")
    op.drop_table("portal_trustee_share")
    op.drop_table("portal_trustee")
    op.drop_table("portal_key_ceremony")
