"""Operators' commands of the OpenID Provider: ``idp keys``, ``idp clients``, ``idp oidc``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, or_, select

from idp.audit import record
from idp.db import get_db
from idp.metrics import serve_worker
from idp.migrate import SchemaNotCurrent, check_current
from idp.models import utcnow
from idp.oidc import clients
from idp.oidc.backchannel import LogoutNotifier, backchannel_collector
from idp.oidc.clients import ClientSettings, ClientSettingsError
from idp.oidc.keys import KeyConfigurationError
from idp.oidc.models import (
    AUTH_METHODS,
    GRANT_TYPES,
    SIGNING_ALGS,
    SUBJECT_TYPES,
    OidcAuthorizationCode,
    OidcClient,
    OidcLogoutNotice,
    OidcToken,
)
from idp.oidc.provider import get_provider
from infra.logs import configure as configure_logs
from infra.worker import run_until_stopped

ALG_CHOICE = click.Choice(SIGNING_ALGS)


def register(main: click.Group) -> None:
    main.add_command(keys)
    main.add_command(clients_group)
    main.add_command(oidc)


def _check_schema() -> None:
    try:
        check_current(get_db().engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None


def _when(instant: dt.datetime | None) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S UTC") if instant else "-"


# --- idp keys ---------------------------------------------------------------------------------------------------


@click.group("keys")
def keys() -> None:
    """Signing keys of ID tokens, signed userinfo and logout tokens."""


@keys.command("init")
@with_appcontext
def keys_init() -> None:
    """Create an ES256 and an RS256 key if there is no active one (idempotent; run at first start)."""
    _check_schema()
    try:
        with get_db().transaction() as session:
            created = get_provider().keys.init(session)
            for row in created:
                record(session, "keys.created", kid=row.kid, alg=row.alg, not_before=_when(row.not_before))
    except KeyConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    for row in created:
        click.echo(f"created {row.alg} key {row.kid}")
    if not created:
        click.echo("signing keys already present")


@keys.command("rotate")
@click.option("--alg", type=ALG_CHOICE, default="ES256", show_default=True)
@click.option(
    "--delay",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds before the new key signs (default: IDP_KEY_ACTIVATION_DELAY).",
)
@with_appcontext
def keys_rotate(alg: str, delay: int | None) -> None:
    """Publish a new key now, sign with it after the activation delay, retire the old one when its tokens
    have expired."""
    _check_schema()
    try:
        with get_db().transaction() as session:
            new, superseded = get_provider().keys.rotate(session, alg, delay)
            record(
                session, "keys.rotated", kid=new.kid, alg=alg, not_before=_when(new.not_before), superseded=superseded
            )
    except KeyConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"published {alg} key {new.kid}; it signs from {_when(new.not_before)}")
    for kid in superseded:
        click.echo(f"key {kid} stays published until its tokens have expired")


@keys.command("list")
@with_appcontext
def keys_list() -> None:
    """Every key with its state."""
    now = utcnow()
    with get_db().transaction() as session:
        infos = get_provider().keys.describe(session)
    for info in infos:
        click.echo(
            f"{info.kid}  {info.alg}  {info.state(now)}  actif à partir de {_when(info.not_before)}  "
            f"retiré après {_when(info.retire_after)}"
        )


# --- idp clients ------------------------------------------------------------------------------------------------


@click.group("clients")
def clients_group() -> None:
    """OpenID Connect clients (relying parties)."""


@clients_group.command("create")
@click.option("--name", "client_name", required=True, help="Name shown to voters (consent screen).")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Exact redirect URI (repeat; required, except for a client_credentials service).",
)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--backchannel-logout-uri", default=None)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(GRANT_TYPES),
    help="Default: authorization_code and refresh_token. client_credentials (alone): a ministry service calling "
    "another, with --scope among IDP_SERVICE_SCOPES.",
)
@click.option(
    "--auth-method",
    type=click.Choice(AUTH_METHODS),
    default="client_secret_basic",
    show_default=True,
    help="Token endpoint authentication (none: public client with PKCE).",
)
@click.option("--scope", default=None, help="Allowed scopes (default: openid profile email academie).")
@click.option(
    "--first-party/--third-party",
    default=False,
    show_default=True,
    help="First-party: no consent screen, public subject by default.",
)
@click.option("--subject-type", type=click.Choice(SUBJECT_TYPES), default=None)
@click.option("--sector-identifier", default=None, help="Host pairwise subjects are computed for.")
@click.option("--id-token-alg", type=ALG_CHOICE, default="ES256", show_default=True)
@click.option("--userinfo-alg", type=ALG_CHOICE, default=None, help="Sign userinfo responses (application/jwt).")
@click.option(
    "--claims-in-id-token",
    "id_token_claims",
    is_flag=True,
    default=False,
    help="The sign-in's ID token also carries the claims of the client's scopes (no userinfo call needed).",
)
@click.option(
    "--jwks-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Public JWK Set of a private_key_jwt client.",
)
@click.option("--access-token-ttl", type=click.IntRange(min=1), default=None)
@click.option("--refresh-token-ttl", type=click.IntRange(min=1), default=None)
@click.option("--id-token-ttl", type=click.IntRange(min=1), default=None)
@click.option("--client-id", default=None, help="Choose the client_id (default: random).")
@with_appcontext
def clients_create(**options: Any) -> None:
    """Register a client; prints its client_id and, once, its secret."""
    _check_schema()
    jwks_file: Path | None = options.pop("jwks_file")
    settings = ClientSettings(
        client_name=options["client_name"],
        redirect_uris=list(options["redirect_uris"]),
        post_logout_redirect_uris=list(options["post_logout_redirect_uris"]),
        backchannel_logout_uri=options["backchannel_logout_uri"],
        grant_types=list(options["grant_types"]) or ["authorization_code", "refresh_token"],
        token_endpoint_auth_method=options["auth_method"],
        first_party=options["first_party"],
        subject_type=options["subject_type"],
        sector_identifier=options["sector_identifier"],
        id_token_signed_response_alg=options["id_token_alg"],
        userinfo_signed_response_alg=options["userinfo_alg"],
        id_token_claims=options["id_token_claims"],
        jwks=json.loads(jwks_file.read_text(encoding="utf-8")) if jwks_file else None,
        access_token_ttl=options["access_token_ttl"],
        refresh_token_ttl=options["refresh_token_ttl"],
        id_token_ttl=options["id_token_ttl"],
        client_id=options["client_id"],
    )
    if options["scope"]:
        settings.scope = options["scope"]
    if "client_credentials" in settings.grant_types:
        settings.response_types = []  # a service is never redirected
        if not options["scope"]:
            settings.scope = ""
    development = current_app.config["ENV"] in {"development", "testing"}
    try:
        with get_db().transaction() as session:
            client, secret = clients.create(session, settings, current_app.config, allow_http=development)
            record(
                session,
                "client.created",
                client_id=client.client_id,
                registered_by="cli",
                first_party=client.first_party,
                auth_method=client.token_endpoint_auth_method,
                subject_type=client.subject_type,
            )
    except ClientSettingsError as exc:
        raise click.ClickException("the client was not created:\n  - " + "\n  - ".join(exc.problems)) from None
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now: store it in the client's configuration.")


@clients_group.command("list")
@with_appcontext
def clients_list() -> None:
    """Every client, one a line."""
    with get_db().transaction() as session:
        rows = session.execute(select(OidcClient).order_by(OidcClient.id)).scalars().all()
        for c in rows:
            state = "désactivé" if c.is_disabled else "actif"
            party = "first-party" if c.first_party else "third-party"
            kind = "service" if c.is_service else party
            click.echo(f"{c.client_id}  {state}  {kind}  {c.token_endpoint_auth_method}  {c.client_name}")


@clients_group.command("show")
@click.argument("client_id")
@with_appcontext
def clients_show(client_id: str) -> None:
    """All the settings of one client (never its secret: only its digest is stored)."""
    with get_db().transaction() as session:
        client = clients.find(session, client_id)
        if client is None:
            raise click.ClickException(f"no client {client_id!r}")
        details = {
            **client.client_metadata,
            "client_id": client.client_id,
            "first_party": client.first_party,
            "id_token_claims": client.id_token_claims,
            "sector_identifier": client.sector_identifier,
            "access_token_ttl": client.access_token_ttl,
            "refresh_token_ttl": client.refresh_token_ttl,
            "id_token_ttl": client.id_token_ttl,
            "registered_by": client.registered_by,
            "created_at": _when(client.created_at),
            "disabled_at": _when(client.disabled_at) if client.disabled_at else None,
        }
    click.echo(json.dumps(details, indent=2, ensure_ascii=False))


@clients_group.command("disable")
@click.argument("client_id")
@with_appcontext
def clients_disable(client_id: str) -> None:
    """Disable a client: no new sign-in, and its tokens stop working."""
    with get_db().transaction() as session:
        client = clients.find(session, client_id)
        if client is None:
            raise click.ClickException(f"no client {client_id!r}")
        clients.disable(session, client)
        record(session, "client.disabled", client_id=client.client_id)
    click.echo(f"client {client_id} disabled")


# --- idp oidc -----------------------------------------------------------------------------------------------------


@click.group("oidc")
def oidc() -> None:
    """OpenID Provider upkeep."""


@oidc.command("deliver-logouts")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0),
    default=None,
    help="Serve this worker's metrics on this port (default: IDP_METRICS_PORT; 0: none).",
)
@with_appcontext
def deliver_logouts(once: bool, interval: float, metrics_port: int | None) -> None:
    """POST queued back-channel logout tokens to clients; loops until SIGTERM or SIGINT unless --once."""
    _check_schema()
    configure_logs()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    notifier = LogoutNotifier(app)
    if once:
        click.echo(f"{notifier.drain()} notice(s) handled")
        return
    serve_worker(app, "idp_backchannel_logout", metrics_port, backchannel_collector(app))
    # A round that fails (the database restarting, say) is retried after a bounded backoff: the loop never exits
    # on an error, only on SIGTERM or SIGINT.
    run_until_stopped(notifier.drain, name="back-channel logout worker", every=interval, job="idp_backchannel_logout")


@oidc.command("purge")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=86400,
    show_default=True,
    help="Seconds past expiry after which codes, tokens and sent notices are deleted.",
)
@with_appcontext
def purge(older_than: int) -> None:
    """Delete expired codes and tokens (kept a while after expiry so that a reuse is still recognised)."""
    limit = utcnow() - dt.timedelta(seconds=older_than)
    with get_db().transaction() as session:
        codes = session.execute(delete(OidcAuthorizationCode).where(OidcAuthorizationCode.expires_at < limit))
        tokens = session.execute(delete(OidcToken).where(OidcToken.expires_at < limit))
        notices = session.execute(
            delete(OidcLogoutNotice).where(
                OidcLogoutNotice.status.in_(("sent", "failed")),
                or_(OidcLogoutNotice.sent_at < limit, OidcLogoutNotice.created_at < limit),
            )
        )
    counts = [getattr(result, "rowcount", 0) for result in (codes, tokens, notices)]
    click.echo(f"deleted {counts[0]} code(s), {counts[1]} token(s), {counts[2]} notice(s)")
