"""The ``idp`` command: Flask's CLI with the IdP loaded, plus the operators' commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException

from idp import create_app, demo
from idp.audit import cli as audit_cli
from idp.auditors import cli as auditors_cli
from idp.db import get_db
from idp.delivery import cli as delivery_cli
from idp.migrate import SchemaNotCurrent, check_current, current_revision, upgrade
from idp.oidc import cli as oidc_cli
from idp.operators import cli as operators_cli
from idp.votecode import cli as votecode_cli
from idp.voters import cli as voters_cli


def _cli_app() -> Flask:
    # Commands check the schema themselves where it matters; ``idp db upgrade`` must run on an empty database.
    try:
        return create_app({"SKIP_SCHEMA_CHECK": True})
    except ValueError as exc:  # a configuration error: say it in one line, not with a traceback
        raise NoAppException(f"the IdP's configuration is incomplete: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_cli_app, add_version_option=False)
def main() -> None:
    """Portail Élections identity provider."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations (creates the database if needed)."""
    engine = get_db().engine
    upgrade(engine, revision)
    click.echo(f"database at revision {current_revision(engine)}")


@db.command("check")
def db_check() -> None:
    """Exit non-zero unless the schema is at the latest revision."""
    try:
        check_current(get_db().engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database schema is current")


def _register_command_modules() -> None:
    """Operators' commands live next to what they operate; each module adds its group to ``main``."""
    for module in (voters_cli, delivery_cli, audit_cli, auditors_cli, operators_cli, oidc_cli, votecode_cli, demo):
        module.register(main)


_register_command_modules()


if __name__ == "__main__":
    main()
