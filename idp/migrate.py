"""The IdP's migrations (:mod:`infra.migrations`): ``idp db upgrade`` and the start-up check of the schema."""

from __future__ import annotations

from infra.migrations import Migrations, SchemaNotCurrent

MIGRATIONS = Migrations(
    "idp:migrations", label="IdP", upgrade_command="idp db upgrade", url_variable="IDP_DATABASE_URL"
)

alembic_config = MIGRATIONS.alembic_config
upgrade = MIGRATIONS.upgrade
head_revision = MIGRATIONS.head_revision
current_revision = MIGRATIONS.current_revision
check_current = MIGRATIONS.check_current

__all__ = [
    "MIGRATIONS",
    "SchemaNotCurrent",
    "alembic_config",
    "check_current",
    "current_revision",
    "head_revision",
    "upgrade",
]
