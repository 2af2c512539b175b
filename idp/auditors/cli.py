"""``idp auditors``: auditor accounts, and the registration of the auditors' console as a client of the IdP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from idp.audit import record
from idp.auditors.accounts import AuditorError, add_auditor, list_auditors, remove_auditor, reset_auditor
from idp.db import get_db
from idp.migrate import SchemaNotCurrent, check_current
from idp.oidc import clients
from idp.oidc.clients import ClientSettings, ClientSettingsError

#: Paths of the console (``audit_console``) that the IdP must know: its callback and where sign-out returns.
CONSOLE_CALLBACK_PATH = "/connexion/retour"
CONSOLE_SIGNED_OUT_PATH = "/deconnexion/fin"
CONSOLE_SCOPE = "openid profile email audit"

auditors = AppGroup("auditors", help="Auditor accounts (read the audit log through the auditors' console).")


def register(main: click.Group) -> None:
    main.add_command(auditors)


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
    except AuditorError as exc:
        raise click.ClickException(str(exc)) from None


def _run(action: Callable[[Session], str]) -> None:
    with _transaction() as session:
        message = action(session)
    click.echo(message)


@auditors.command("add")
@click.argument("email")
@click.option("--name", required=True, help='Given names then family name: "Camille Durand".')
@click.option(
    "--family-name",
    default=None,
    help='The family name when it has several words ("de La Tour"); --name must end with it.',
)
def add_command(email: str, name: str, family_name: str | None) -> None:
    """Create an auditor account. On its first sign-in the auditor asks for the activation link (sent to EMAIL)."""

    def action(session: Session) -> str:
        account = add_auditor(session, email, name, family_name=family_name)
        return (
            f"Compte auditeur créé : {account.identifier} ({account.first_names} {account.family_name}). "
            "À sa première connexion, l'auditeur demandera son lien d'activation, envoyé à cette adresse."
        )

    _run(action)


@auditors.command("list")
def list_command() -> None:
    """Every auditor account, one a line: address, name, activated or not, subject in the audit log."""
    with _transaction() as session:
        accounts = list_auditors(session)
        for account in accounts:
            state = "activé" if account.is_activated else "non activé"
            click.echo(
                f"{account.identifier}  {account.first_names} {account.family_name}  {state}  sujet {account.subject}"
            )
    if not accounts:
        click.echo("Aucun compte auditeur.")


@auditors.command("reset")
@click.argument("email")
def reset_command(email: str) -> None:
    """Forget an auditor's password and end its sessions; its next sign-in asks for a new activation link."""
    _run(
        lambda session: (
            f"Mot de passe de {reset_auditor(session, email).identifier} effacé : "
            "une nouvelle activation sera demandée à sa prochaine connexion."
        )
    )


@auditors.command("remove")
@click.argument("email")
def remove_command(email: str) -> None:
    """Delete an auditor account: its sessions end at once, at the IdP and in the console."""
    _run(lambda session: f"Compte auditeur supprimé (sujet {remove_auditor(session, email)} dans le journal).")


@auditors.command("console-client")
@click.option(
    "--url",
    "console_url",
    required=True,
    help="Public address of the auditors' console (AUDIT_CONSOLE_PUBLIC_URL), e.g. https://audit.example.fr",
)
@click.option("--client-id", default="audit-console", show_default=True)
def console_client_command(console_url: str, client_id: str) -> None:
    """Register the auditors' console: a first-party client allowed the ``audit`` scope (the account's roles)."""
    base = console_url.rstrip("/")
    settings = ClientSettings(
        client_name="Journal d'audit (console des auditeurs)",
        redirect_uris=[base + CONSOLE_CALLBACK_PATH],
        post_logout_redirect_uris=[base + CONSOLE_SIGNED_OUT_PATH],
        grant_types=["authorization_code"],
        scope=CONSOLE_SCOPE,
        first_party=True,
        subject_type="public",
        client_id=client_id,
    )
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
    click.echo(f"  AUDIT_CONSOLE_PUBLIC_URL={base}")
    click.echo(f"  AUDIT_CONSOLE_IDP_ISSUER={str(current_app.config['PUBLIC_URL']).rstrip('/')}")
    click.echo(f"  AUDIT_CONSOLE_CLIENT_ID={client.client_id}")
    click.echo("  AUDIT_CONSOLE_CLIENT_SECRET=<the secret above>")
