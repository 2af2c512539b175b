"""``idp audit``: verify the audit log (against sealed checkpoints too), export it, seal it, for auditors."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from hashchain.cli import echo_verification, export, export_filter, instant
from idp.audit.checkpoint_verify import verify_checkpoints
from idp.audit.log import LOG, verify
from idp.audit.seal import seal
from idp.audit.sealkey import SealKeyError, generate_private_key, key_id, load_private_key, load_public_key, public_pem
from idp.audit.vocabulary import EVENT_TYPES
from idp.db import get_db
from infra.audit_watch import verify_every
from infra.logs import configure

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@click.group("audit", cls=AppGroup)
def audit() -> None:
    """Tamper-evident audit log."""


KEY_FILE_ENV = "IDP_AUDIT_SEAL_KEY_FILE"
_EXISTING_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
#: A key file named by the environment: read only by the commands that need it.
_KEY_PATH = click.Path(dir_okay=False, path_type=Path)


def _public_key(public_key_file: Path | None, key_file: Path | None) -> Ed25519PublicKey:
    path = public_key_file or key_file
    if path is None:
        raise click.UsageError(
            f"checkpoints are checked against the seal's public key: give --public-key (or set {KEY_FILE_ENV})"
        )
    try:
        return load_public_key(path)
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=_EXISTING_FILE,
    help="A checkpoint written by 'idp audit seal' (repeatable): the log must still hold what it sealed.",
)
@click.option(
    "--public-key",
    "public_key_file",
    type=_EXISTING_FILE,
    help="The seal's public key ('idp audit seal-key'); default: the public half of the seal key file.",
)
@click.option("--key-file", envvar=KEY_FILE_ENV, type=_KEY_PATH, hidden=True)
@click.option(
    "--every",
    type=click.FloatRange(min=0),
    default=0,
    help="Verify the chains again every this many seconds until SIGTERM, for the metrics (0: once, then exit).",
)
@click.option(
    "--metrics-port", type=click.IntRange(min=0), default=None, help="With --every: default IDP_METRICS_PORT."
)
def verify_command(
    checkpoints: tuple[Path, ...],
    public_key_file: Path | None,
    key_file: Path | None,
    every: float,
    metrics_port: int | None,
) -> None:
    """Check every hash chain, and the log against each checkpoint given; exit 1 naming the first problem."""
    engine = get_db().engine
    if every:
        configure()
        cfg = current_app.config
        verify_every(
            "idp",
            every,
            lambda: verify(engine),
            metrics_port=int(cfg.get("METRICS_PORT") or 0) if metrics_port is None else metrics_port,
            metrics_bind=str(cfg.get("METRICS_BIND") or "127.0.0.1"),
        )
        return
    trusted = _public_key(public_key_file, key_file) if checkpoints else None
    intact = echo_verification(verify(engine))
    sealed_ok = True
    if trusted is not None:
        named = [(str(path), path.read_text(encoding="utf-8", errors="replace")) for path in checkpoints]
        sealed = verify_checkpoints(engine, named, trusted)
        sealed_ok = sealed.ok
        if sealed.ok:
            click.echo(
                f"{sealed.verified} checkpoint(s) verified: the log holds every sealed event unchanged "
                f"({sealed.positions} positions)"
            )
        else:
            click.echo(f"checkpoints NOT verified: {sealed.first_failure}", err=True)
            for failure in sealed.failures[1:]:
                click.echo(f"  also: {failure}", err=True)
    if not intact or not sealed_ok:
        click.get_current_context().exit(1)


@audit.command("seal")
@click.option(
    "--key-file",
    envvar=KEY_FILE_ENV,
    required=True,
    type=_KEY_PATH,
    help=f"The seal's private key (PEM) [env {KEY_FILE_ENV}].",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the checkpoint to this file (refused if it exists) instead of standard output.",
)
def seal_command(key_file: Path, output: Path | None) -> None:
    """Sign a checkpoint of the log's head (each chain's last seq and hash, a time, a counter) for the auditors."""
    try:
        private_key = load_private_key(key_file)
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with get_db().transaction() as session:
            checkpoint = seal(session, private_key, issuer=str(current_app.config["PUBLIC_URL"]).rstrip("/"))
            document = checkpoint.document()
            if output is not None:
                # Written before the commit: a seal the auditors cannot be handed is not recorded either.
                try:
                    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    raise click.ClickException(f"{output} already exists") from None
                with os.fdopen(descriptor, "w", encoding="ascii", newline="\n") as handle:
                    handle.write(document)
    except IntegrityError:
        raise click.ClickException("another seal was written at the same time: run the command again") from None
    if output is None:
        click.echo(document, nl=False)
    events = sum(head.seq for head in checkpoint.heads)
    where = f" in {output}" if output else ""
    click.echo(
        f"checkpoint {checkpoint.counter} sealed{where}: {len(checkpoint.heads)} chains, {events} events, "
        f"key {checkpoint.key_id[:16]}…; hand it to the auditors, who keep it outside this system",
        err=True,
    )


@audit.command("seal-key")
@click.option(
    "--key-file",
    envvar=KEY_FILE_ENV,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The seal's private key (PEM) [env {KEY_FILE_ENV}].",
)
@click.option("--generate", is_flag=True, help="Create a new private key in --key-file (never overwrites).")
def seal_key_command(key_file: Path | None, generate: bool) -> None:
    """Print the seal's public key (PEM) and key id, for the auditors to keep with the checkpoints."""
    if key_file is None:
        raise click.UsageError(f"give --key-file or set {KEY_FILE_ENV}")
    try:
        private_key = generate_private_key(key_file) if generate else load_private_key(key_file)
    except SealKeyError as exc:
        raise click.ClickException(str(exc)) from None
    public_key = private_key.public_key()
    click.echo(public_pem(public_key), nl=False)
    click.echo(f"key id (SHA-256 of the raw public key): {key_id(public_key)}", err=True)
    if generate:
        click.echo(f"new private key written to {key_file} (mode 0600): keep it out of the database's reach", err=True)


@audit.command("export")
@click.option("--since", callback=instant, help="Events at or after this ISO 8601 instant (UTC if no offset).")
@click.option("--until", callback=instant, help="Events strictly before this ISO 8601 instant.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option("--client", "client_id", default=None, help="Only the events of this client_id.")
@click.option("--subject", default=None, help="Only the events of this pseudonymous subject.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file (atomically) instead of standard output.",
)
def export_command(
    since: dt.datetime | None,
    until: dt.datetime | None,
    types: tuple[str, ...],
    client_id: str | None,
    subject: str | None,
    output: Path | None,
) -> None:
    """Export the log as JSON lines, one event a line, ordered by chain and seq."""
    filters = export_filter(EVENT_TYPES, since=since, until=until, types=types, client_id=client_id, subject=subject)
    export(get_db().engine, LOG, filters, output)


def register(main: click.Group) -> None:
    main.add_command(audit)
