"""``fc-dev-provider``: Flask's commands (``run``, ``routes``, ``shell``) on this app, plus ``keygen`` and
``citizens``.

``fc-dev-provider run`` serves on the port of ``FCDEV_ISSUER`` (5002 by default) unless ``--port`` says
otherwise.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import FlaskGroup

from fc_dev_provider import config as config_module
from fc_dev_provider import create_app
from fc_dev_provider.keys import SigningKey
from fc_dev_provider.provider import EXTENSION, Provider

DEFAULT_PORT = 5002


def _default_port() -> int:
    try:
        issuer = str(config_module.load()["ISSUER"])
        return urlsplit(issuer).port or DEFAULT_PORT
    except ValueError:
        return DEFAULT_PORT


def build_cli() -> click.Group:
    group = FlaskGroup(
        name="fc-dev-provider",
        create_app=lambda: create_app(),
        help="Fournisseur d'identité de développement (type FranceConnect v2), pas pour la production.",
        context_settings={"default_map": {"run": {"port": _default_port()}}},
    )

    @group.command("keygen")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def keygen(path: Path) -> None:
        """Write a new ES256 (P-256) private key in PEM to PATH, for FCDEV_SIGNING_KEY_FILE."""
        if path.exists():
            raise click.ClickException(f"{path} exists; refusing to overwrite a key")
        key = SigningKey.generate()
        path.touch(mode=0o600)
        path.write_bytes(key.pem())
        click.echo(f"kid {key.kid} written to {path}")

    @group.command("citizens")
    def citizens() -> None:
        """List the fictitious citizens (and the scenario applied to them by default)."""
        provider: Provider = current_app.extensions[EXTENSION]
        for citizen in provider.citizens.values():
            scenario = provider.scenarios.for_citizen(citizen.id)
            place = citizen.birthplace or f"étranger ({citizen.birthcountry})"
            suffix = f"  [scénario {scenario.name}]" if scenario else ""
            click.echo(f"{citizen.id:24} {citizen.display_name:40} {citizen.birthdate}  {place}{suffix}")

    return group


def main() -> None:
    build_cli().main(prog_name="fc-dev-provider")
