"""The portal's migrations (:mod:`infra.migrations`): ``portal db upgrade`` and the start-up schema check.

The portal keeps its revision in a table of its own (``portal_alembic_version``), so that it can share a
PostgreSQL database with the IdP without either one's migrations seeing the other's.
"""

from __future__ import annotations

from infra.migrations import Migrations, SchemaNotCurrent

VERSION_TABLE = "portal_alembic_version"

MIGRATIONS = Migrations(
    "relying_party:migrations",
    label="portal",
    upgrade_command="portal db upgrade",
    url_variable="PORTAL_DATABASE_URL",
    version_table=VERSION_TABLE,
)

alembic_config = MIGRATIONS.alembic_config
upgrade = MIGRATIONS.upgrade
head_revision = MIGRATIONS.head_revision
current_revision = MIGRATIONS.current_revision
check_current = MIGRATIONS.check_current

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "SchemaNotCurrent",
    "alembic_config",
    "check_current",
    "current_revision",
    "head_revision",
    "upgrade",
]
