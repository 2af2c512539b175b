"""The command group of one staff role (``idp auditors …``, ``idp operators …``): its accounts, and the registration
of its console as a first-party client of the IdP. Both groups have the same commands, audit events and outputs,
worded for their role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from idp.audit import record
from idp.db import get_db
from idp.migrate import SchemaNotCurrent, check_current
from idp.oidc import clients
from idp.oidc.clients import ClientSettings, ClientSettingsError
from idp.staff.accounts import StaffAccountError, StaffAccounts

#: Paths of a staff console that the IdP must know: its callback and where sign-out returns (both consoles use the
#: same paths, :mod:`infra.staff_console`).
CONSOLE_CALLBACK_PATH = "/connexion/retour"
CONSOLE_SIGNED_OUT_PATH = "/deconnexion/fin"
#: ``audit`` is the scope that releases the account's ``roles`` claim (first-party clients registered here only).
CONSOLE_SCOPE = "openid profile email audit"


def console_client_settings(client_name: str, console_url: str, client_id: str) -> ClientSettings:
    """A staff console's registration: a first-party client allowed the ``audit`` scope (the account's roles)."""
    base = console_url.rstrip("/")
    return ClientSettings(
        client_name=client_name,
        redirect_uris=[base + CONSOLE_CALLBACK_PATH],
        post_logout_redirect_uris=[base + CONSOLE_SIGNED_OUT_PATH],
        grant_types=["authorization_code"],
        scope=CONSOLE_SCOPE,
        first_party=True,
        subject_type="public",
        client_id=client_id,
    )


@dataclass(frozen=True)
class StaffGroup:
    """What differs between the staff roles' command groups."""

    accounts: StaffAccounts
    #: The group's name (``auditors``) and help.
    name: str
    help: str
    #: « l'auditeur », in the sentence telling what the account's first sign-in does.
    the_person: str
    #: The console's settings prefix (``AUDIT_CONSOLE_``), its client's name, default id and example address.
    env_prefix: str
    client_name: str
    client_id: str
    example_url: str


@contextmanager
def _transaction() -> Iterator[Session]:
    database = get_db()
    try:
        check_current(database.engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with database.transaction() as session:
            yield session
    except StaffAccountError as exc:
        raise click.ClickException(str(exc)) from None


def _run(action: Callable[[Session], str]) -> None:
    with _transaction() as session:
        message = action(session)
    click.echo(message)


def build_group(spec: StaffGroup) -> AppGroup:
    """The ``add``, ``list``, ``reset``, ``remove`` and ``console-client`` commands of one staff role."""
    accounts, noun = spec.accounts, spec.accounts.noun
    group = AppGroup(spec.name, help=spec.help)

    @group.command("add")
    @click.argument("email")
    @click.option("--name", required=True, help='Given names then family name: "Camille Durand".')
    @click.option(
        "--family-name",
        default=None,
        help='The family name when it has several words ("de La Tour"); --name must end with it.',
    )
    def add_command(email: str, name: str, family_name: str | None) -> None:
        def action(session: Session) -> str:
            account = accounts.add(session, email, name, family_name=family_name)
            return (
                f"Compte {noun} créé : {account.identifier} ({account.first_names} {account.family_name}). "
                f"À sa première connexion, {spec.the_person} demandera son lien d'activation, envoyé à cette adresse."
            )

        _run(action)

    add_command.help = (
        f"Create an {accounts.role} account. On its first sign-in the {accounts.role} asks for the activation link "
        "(sent to EMAIL)."
    )

    @group.command("list")
    def list_command() -> None:
        with _transaction() as session:
            found = accounts.list(session)
            for account in found:
                state = "activé" if account.is_activated else "non activé"
                click.echo(
                    f"{account.identifier}  {account.first_names} {account.family_name}  {state}  "
                    f"sujet {account.subject}"
                )
        if not found:
            click.echo(f"Aucun compte {noun}.")

    list_command.help = (
        f"Every {accounts.role} account, one a line: address, name, activated or not, subject in the audit log."
    )

    @group.command("reset")
    @click.argument("email")
    def reset_command(email: str) -> None:
        _run(
            lambda session: (
                f"Mot de passe de {accounts.reset(session, email).identifier} effacé : "
                "une nouvelle activation sera demandée à sa prochaine connexion."
            )
        )

    reset_command.help = (
        f"Forget an {accounts.role}'s password and end its sessions; its next sign-in asks for a new activation link."
    )

    @group.command("remove")
    @click.argument("email")
    def remove_command(email: str) -> None:
        _run(lambda session: f"Compte {noun} supprimé (sujet {accounts.remove(session, email)} dans le journal).")

    remove_command.help = f"Delete an {accounts.role} account: its sessions end at once, at the IdP and in the console."

    @group.command("console-client")
    @click.option(
        "--url",
        "console_url",
        required=True,
        help=f"Public address of the {accounts.role}s' console ({spec.env_prefix}PUBLIC_URL), e.g. {spec.example_url}",
    )
    @click.option("--client-id", default=spec.client_id, show_default=True)
    def console_client_command(console_url: str, client_id: str) -> None:
        settings = console_client_settings(spec.client_name, console_url, client_id)
        _register_console(settings, console_url.rstrip("/"), spec.env_prefix)

    console_client_command.help = (
        f"Register the {accounts.role}s' console: a first-party client allowed the ``audit`` scope (the account's "
        "roles)."
    )
    return group


def _register_console(settings: ClientSettings, base: str, env_prefix: str) -> None:
    development = current_app.config["ENV"] in {"development", "testing"}
    with _transaction() as session:
        try:
            client, secret = clients.create(session, settings, current_app.config, allow_http=development)
        except ClientSettingsError as exc:
            raise click.ClickException("the client was not created:\n  - " + "\n  - ".join(exc.problems)) from None
        record(
            session,
            "client.created",
            client_id=client.client_id,
            registered_by="cli",
            first_party=True,
            auth_method=client.token_endpoint_auth_method,
            subject_type=client.subject_type,
        )
    click.echo(f"client_id: {client.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo("The secret is shown only now. The console's settings:")
    click.echo(f"  {env_prefix}PUBLIC_URL={base}")
    click.echo(f"  {env_prefix}IDP_ISSUER={str(current_app.config['PUBLIC_URL']).rstrip('/')}")
    click.echo(f"  {env_prefix}CLIENT_ID={client.client_id}")
    click.echo(f"  {env_prefix}CLIENT_SECRET=<the secret above>")
