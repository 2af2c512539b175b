"""Alembic driven from code, for every app with a database: ``<app> db upgrade`` and the start-up schema check.

An app declares its :class:`Migrations` once (its script folder, its version table, the command an operator runs);
its web processes refuse to start on a database that is not at the latest revision, with a message saying which
command to run. Each app's ``migrations/env.py`` calls :func:`run_environment`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

DEFAULT_VERSION_TABLE = "alembic_version"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the revision the code expects."""


class Migrations:
    """The migrations of one app: ``script_location`` (``package:folder``) and its ``version_table``.

    ``label`` names the database in messages (``"The IdP database is …"``), ``upgrade_command`` and ``url_variable``
    say what the operator runs, with which setting.
    """

    def __init__(
        self,
        script_location: str,
        *,
        label: str,
        upgrade_command: str,
        url_variable: str,
        version_table: str = DEFAULT_VERSION_TABLE,
    ) -> None:
        self.script_location = script_location
        self.label = label
        self.upgrade_command = upgrade_command
        self.url_variable = url_variable
        self.version_table = version_table

    def alembic_config(self, engine: Engine) -> Config:
        config = Config()
        config.set_main_option("script_location", self.script_location)
        config.attributes["engine"] = engine
        return config

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        command.upgrade(self.alembic_config(engine), revision)

    def head_revision(self, engine: Engine) -> str | None:
        """The latest revision of the app's scripts (the engine is not read: the scripts alone decide it)."""
        del engine
        return _head_of(self.script_location)

    def current_revision(self, engine: Engine) -> str | None:
        with engine.connect() as conn:
            opts = {"version_table": self.version_table}
            return MigrationContext.configure(conn, opts=opts).get_current_revision()

    def check_current(self, engine: Engine) -> None:
        """Raise :class:`SchemaNotCurrent` with an actionable message unless the database is at the latest revision."""
        current, head = self.current_revision(engine), self.head_revision(engine)
        if current != head:
            state = "not initialised" if current is None else f"at revision {current}"
            raise SchemaNotCurrent(
                f"The {self.label} database is {state}, the code expects revision {head}. "
                f"Run `{self.upgrade_command}` (with the same {self.url_variable}) before starting the {self.label}."
            )


@functools.cache
def _head_of(script_location: str) -> str | None:
    """The head revision of the scripts at ``script_location``, read once per process: loading them compiles every
    script (about 28 ms for the IdP's), and they do not change while the code that holds them runs."""
    config = Config()
    config.set_main_option("script_location", script_location)
    return ScriptDirectory.from_config(config).get_current_head()


def run_environment(
    metadata: MetaData,
    *,
    version_table: str = DEFAULT_VERSION_TABLE,
    include_name: Callable[[str | None, str, Any], bool] | None = None,
) -> None:
    """The body of an app's ``migrations/env.py``: the engine comes from the caller, never from a file."""
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
            version_table=version_table,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
