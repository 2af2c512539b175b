"""auditors and audit seals: the role of an account, identity columns optional for auditors, signed checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00

SQLite cannot drop a NOT NULL constraint in place: the ``voter`` table is rebuilt (Alembic's batch mode). Its
children (links, vote codes, tokens, consents…) reference it with ``ON DELETE CASCADE``, and with foreign keys
enforced, dropping the old table would first delete every row of theirs. SQLite only lets foreign keys be switched
off outside a transaction, so on SQLite this migration ends the migration transaction, rebuilds the table in a
transaction of its own with foreign keys off, checks them (``PRAGMA foreign_key_check``), and switches them back on:
the procedure of SQLite's documentation ("Making Other Kinds Of Table Schema Changes"). On PostgreSQL the changes
are plain ``ALTER TABLE`` statements inside the migration transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

import infra.sqltypes

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

IDENTITY_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "birth_date": sa.Date(),
    "birthplace": sa.String(length=5),
    "academie": sa.String(length=100),
    "numen_hash": sa.LargeBinary(length=32),
    "nir_hash": sa.LargeBinary(length=32),
}
ROLE_CHECK = "role IN ('voter', 'auditor')"
VOTER_IDENTITY_CHECK = "role <> 'voter' OR (" + " AND ".join(f"{c} IS NOT NULL" for c in IDENTITY_COLUMNS) + ")"
AUDITOR_CHECK = "role <> 'auditor' OR (" + " AND ".join(f"{c} IS NULL" for c in IDENTITY_COLUMNS) + ")"


def _outside_foreign_keys(change: Callable[[], None]) -> None:
    """Run ``change()`` on SQLite with foreign keys off, in a transaction of its own (see the module docstring)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        change()
        return
    bind.exec_driver_sql("COMMIT")  # the earlier revisions, and the version stamp at 0003
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        bind.exec_driver_sql("BEGIN IMMEDIATE")
        change()
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration 0004 would break foreign keys: {broken[:5]}")
        bind.exec_driver_sql("COMMIT")
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")  # the version stamp at 0004, committed by the migration environment


def _upgrade_voter() -> None:
    with op.batch_alter_table("voter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=10), server_default="voter", nullable=False))
        for name, type_ in IDENTITY_COLUMNS.items():
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        batch_op.create_check_constraint("role", ROLE_CHECK)
        batch_op.create_check_constraint("voter_identity", VOTER_IDENTITY_CHECK)
        batch_op.create_check_constraint("auditor_no_identity", AUDITOR_CHECK)


def _downgrade_voter() -> None:
    # Auditor accounts have no identity: they cannot survive the NOT NULL columns of revision 0003.
    op.execute("DELETE FROM voter WHERE role = 'auditor'")
    with op.batch_alter_table("voter", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_voter_auditor_no_identity"), type_="check")
        batch_op.drop_constraint(op.f("ck_voter_voter_identity"), type_="check")
        batch_op.drop_constraint(op.f("ck_voter_role"), type_="check")
        for name, type_ in IDENTITY_COLUMNS.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.drop_column("role")


def upgrade() -> None:
    op.create_table(
        "audit_seal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("sealed_at", infra.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seal")),
        sa.UniqueConstraint("counter", name=op.f("uq_audit_seal_counter")),
    )
    _outside_foreign_keys(_upgrade_voter)


def downgrade() -> None:
    _outside_foreign_keys(_downgrade_voter)
    op.drop_table("audit_seal")
