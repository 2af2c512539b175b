"""Alembic, driven from code: ``portal db upgrade`` and the start-up check that the schema is current.

The portal keeps its revision in a table of its own (``portal_alembic_version``), so that it can share a
PostgreSQL database with the IdP without either one's migrations seeing the other's.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

VERSION_TABLE = "portal_alembic_version"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "relying_party:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


class SchemaNotCurrent(RuntimeError):
    pass


def check_current(engine: Engine) -> None:
    """Raise with an actionable message unless the database is at the latest migration."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        state = "not initialised" if current is None else f"at revision {current}"
        raise SchemaNotCurrent(
            f"The portal database is {state}, the code expects revision {head}. "
            "Run `portal db upgrade` (with the same PORTAL_DATABASE_URL) before starting the portal."
        )
