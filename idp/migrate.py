"""Alembic, driven from code: ``idp db upgrade`` and the start-up check that the schema is current."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "idp:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class SchemaNotCurrent(RuntimeError):
    pass


def check_current(engine: Engine) -> None:
    """Raise with an actionable message unless the database is at the latest migration."""
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        state = "not initialised" if current is None else f"at revision {current}"
        raise SchemaNotCurrent(
            f"The IdP database is {state}, the code expects revision {head}. "
            "Run `idp db upgrade` (with the same IDP_DATABASE_URL) before starting the IdP."
        )
