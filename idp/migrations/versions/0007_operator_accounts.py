"""operator accounts: the role "operator", which, like "auditor", carries no civil identity

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:00:00

The role check gains "operator", and the auditors' constraint (no birth date, birthplace, académie, NUMEN or NIR)
becomes one for every account that is not a voter. On PostgreSQL these are plain ``ALTER TABLE`` statements. SQLite
cannot change a check constraint in place: the ``voter`` table is rebuilt as revision 0004 does it (foreign keys off,
in a transaction of its own, checked with ``PRAGMA foreign_key_check`` before they are switched back on), so that
the rebuild does not delete the rows of the tables that reference ``voter`` with ``ON DELETE CASCADE``.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

IDENTITY_COLUMNS = ("birth_date", "birthplace", "academie", "numen_hash", "nir_hash")
NO_IDENTITY = " AND ".join(f"{c} IS NULL" for c in IDENTITY_COLUMNS)


def _outside_foreign_keys(change: Callable[[], None]) -> None:
    """Run ``change()`` on SQLite with foreign keys off, in a transaction of its own (see the module docstring)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        change()
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        bind.exec_driver_sql("BEGIN IMMEDIATE")
        change()
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration 0007 would break foreign keys: {broken[:5]}")
        bind.exec_driver_sql("COMMIT")
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")  # the version stamp, committed by the migration environment


def _upgrade_voter() -> None:
    with op.batch_alter_table("voter", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_voter_auditor_no_identity"), type_="check")
        batch_op.drop_constraint(op.f("ck_voter_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('voter', 'auditor', 'operator')")
        batch_op.create_check_constraint("staff_no_identity", f"role = 'voter' OR ({NO_IDENTITY})")


def _downgrade_voter() -> None:
    # Revision 0006 knows no operators: their accounts go (the audit log keeps naming their subjects).
    op.execute("DELETE FROM voter WHERE role = 'operator'")
    with op.batch_alter_table("voter", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_voter_staff_no_identity"), type_="check")
        batch_op.drop_constraint(op.f("ck_voter_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('voter', 'auditor')")
        batch_op.create_check_constraint("auditor_no_identity", f"role <> 'auditor' OR ({NO_IDENTITY})")


def upgrade() -> None:
    _outside_foreign_keys(_upgrade_voter)


def downgrade() -> None:
    _outside_foreign_keys(_downgrade_voter)
