"""The ``portal`` command: database, election data, tally, mixing, audit log, delivery, demo, dev server.

Operators' commands do not build the web application: they need the database, not the IdP, so they run with only
``PORTAL_DATABASE_URL`` and ``PORTAL_SECRET_KEY`` set (plus SMTP settings for ``portal deliver``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from infra import metrics
from relying_party import config as config_module
from relying_party.audit import cli as audit_cli
from relying_party.ceremony import cli as ceremony_cli
from relying_party.db import Database


class Context:
    def __init__(self) -> None:
        self.settings: dict[str, Any] = config_module.load()
        try:
            config_module.validate(self.settings, web=False)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        self.database = Database(self.settings["DATABASE_URL"])
        click.get_current_context().call_on_close(self.database.dispose)

    def require_schema(self) -> None:
        from relying_party.migrate import SchemaNotCurrent, check_current

        try:
            check_current(self.database.engine)
        except SchemaNotCurrent as exc:
            raise click.ClickException(str(exc)) from None


pass_context = click.make_pass_decorator(Context, ensure=True)
METRICS_PORT_HELP = "With --loop, serve this worker's metrics on this port (default: PORTAL_METRICS_PORT; 0: none)."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group()
def main() -> None:
    """Portail Élections: the voter portal."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply the migrations (creates the database if needed)."""
    from relying_party.migrate import current_revision, upgrade

    upgrade(ctx.database.engine, revision)
    click.echo(f"portal database at revision {current_revision(ctx.database.engine)}")


@db.command("check")
@pass_context
def db_check(ctx: Context) -> None:
    """Exit non-zero unless the schema is at the latest revision."""
    ctx.require_schema()
    click.echo("portal database schema is current")


@main.group()
def election() -> None:
    """Scrutins, rolls and candidate lists; mixing and tally."""


@election.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def election_import(ctx: Context, path: Path) -> None:
    """Import scrutins, candidate lists and rolls from a JSON file (all or nothing)."""
    from relying_party.elections.importer import import_file

    ctx.require_schema()
    report = import_file(ctx.database, path, max_pdf_bytes=int(ctx.settings["MAX_PDF_BYTES"]))
    if not report.ok:
        for error in report.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{len(report.errors)} problème(s) : rien n'a été importé.")
    click.echo(f"import terminé : {report.summary()}")


@election.command("mix")
@click.option("--scrutin", "code", default=None, help="Only this scrutin (code).")
@click.option("--min-batch", default=1, show_default=True, help="Leave scrutins with fewer unmixed ballots.")
@click.option("--loop", is_flag=True, help="Keep running, mixing every --interval seconds.")
@click.option("--interval", type=click.FloatRange(min=1), default=300.0, show_default=True)
@click.option("--metrics-port", type=click.IntRange(min=0), default=None, help=METRICS_PORT_HELP)
@pass_context
def election_mix(
    ctx: Context, code: str | None, min_batch: int, loop: bool, interval: float, metrics_port: int | None
) -> None:
    """Mix the ballot box (see docs/auditors/ballot-box.md): run periodically while voting is open.

    With --loop, until SIGTERM or SIGINT; a round that fails (the database restarting, say) is retried after a
    bounded backoff, never the end of the worker.
    """
    from sqlalchemy import select

    from relying_party.models import Scrutin
    from relying_party.voting.mixing import mix

    ctx.require_schema()
    scrutin_id = None
    if code:
        with ctx.database.reader() as session:
            scrutin_id = session.execute(select(Scrutin.id).where(Scrutin.code == code)).scalar_one_or_none()
        if scrutin_id is None:
            raise click.ClickException(f"Scrutin inconnu : {code}")
    if loop:
        from relying_party.voting.mixing import run_forever

        _log_to_stderr()
        _serve_metrics(ctx, "portal_mixer", metrics_port)
        run_forever(ctx.database, interval, scrutin_id=scrutin_id, min_batch=min_batch)
        return
    click.echo(f"{mix(ctx.database, scrutin_id=scrutin_id, min_batch=min_batch)} bulletin(s) brassé(s)")


@election.command("tally")
@click.argument("code")
@click.option(
    "--request",
    "request_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the decryption request to hand to the trustees (portal trustee decrypt).",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the election record as it stands (the box and its aggregate), which the trustees recount from.",
)
@click.option(
    "--partial",
    "partial_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trustee's partial decryption (repeatable); each is checked before it is kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def election_tally(
    ctx: Context,
    code: str,
    request_path: Path | None,
    record_path: Path | None,
    partial_paths: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Count a closed scrutin without decrypting any ballot: the aggregate, then k trustees' partial decryptions.

    Exit status: 0 counted; 3 waiting for trustees' partial decryptions; 2 counted but ballots ≠ émargements.
    """
    from relying_party.ceremony import files
    from relying_party.elections.tally import TallyRefused, tally

    ctx.require_schema()
    try:
        documents = [files.read(path, "partial-decryption") for path in partial_paths]
        state, request = tally(ctx.database, code, _now(), partials=documents)
    except (TallyRefused, files.CeremonyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    if request_path is not None:
        files.write(request_path, request)
        click.echo(f"demande de déchiffrement écrite dans {request_path}", err=True)
    if record_path is not None:
        from relying_party.elections.record import election_record

        with record_path.open("wb") as handle:
            handle.writelines(election_record(ctx.database, code))
        click.echo(f"dossier de l'élection écrit dans {record_path} (à remettre aux garants)", err=True)
    if as_json:
        data = asdict(state)
        data["closes_at"] = state.closes_at.isoformat()
        data["consistent"] = state.consistent
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(state.render())
    if state.lines is None:
        sys.exit(3)
    if not state.consistent:
        sys.exit(2)


@election.command("record")
@click.argument("code")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_context
def election_record(ctx: Context, code: str, output: Path) -> None:
    """Write the election record of a counted scrutin (JSON lines; tools/verify_election_record.py checks it)."""
    from relying_party.elections.record import RecordUnavailable, election_record

    ctx.require_schema()
    try:
        lines = election_record(ctx.database, code)
        with output.open("wb") as handle:
            for line in lines:
                handle.write(line)
    except RecordUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dossier de l'élection {code} écrit dans {output}")


@main.group()
def demo() -> None:
    """Demo data following the seed."""


@demo.command("load")
@click.option(
    "--trustees-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance/demo-garants"),
    show_default=True,
    help="Where the demo's fictitious trustees keep their private files (demo only).",
)
@pass_context
def demo_load(ctx: Context, trustees_dir: Path) -> None:
    """Load the demo scrutins, open now for seven more days (dates computed from now), and run the demo's key
    ceremony (fictitious trustees, files in --trustees-dir: for demonstration only)."""
    from relying_party.ceremony.demo import ensure_demo_ceremony
    from relying_party.ceremony.service import CeremonyRefused
    from relying_party.elections.demo import SCRUTINS, load_demo

    ctx.require_schema()
    report = load_demo(ctx.database, _now(), max_pdf_bytes=int(ctx.settings["MAX_PDF_BYTES"]))
    if not report.ok:
        for error in report.errors:
            click.echo(error, err=True)
        raise click.ClickException("les données de démonstration n'ont pas pu être chargées")
    click.echo(f"démonstration chargée : {report.summary()}")
    try:
        click.echo(ensure_demo_ceremony(ctx.database, trustees_dir, [code for code, *_ in SCRUTINS], _now()))
    except CeremonyRefused as exc:
        raise click.ClickException(str(exc)) from None


def _log_to_stderr() -> None:
    """A long-running worker: operators follow it in its output, JSON lines (no address, no content)."""
    from infra.logs import configure

    configure()


def _serve_metrics(ctx: Context, name: str, port: int | None, *collectors: metrics.ScrapeCollector) -> None:
    """Serve a looping worker's metrics, with whether its database answers at each scrape."""
    chosen = int(ctx.settings.get("METRICS_PORT") or 0) if port is None else port
    database = metrics.dependency_collector(name, {"database": metrics.database_check(ctx.database.engine)})
    metrics.serve(chosen, str(ctx.settings.get("METRICS_BIND") or "127.0.0.1"), [*collectors, database])


@main.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running, sending due messages every --interval seconds.")
@click.option("--interval", default=10.0, show_default=True)
@click.option("--metrics-port", type=click.IntRange(min=0), default=None, help=METRICS_PORT_HELP)
@pass_context
def deliver(ctx: Context, loop: bool, interval: float, metrics_port: int | None) -> None:
    """Send the outbox (assistance requests and complaints to PORTAL_SUPPORT_EMAIL) over SMTP.

    With --loop, until SIGTERM or SIGINT; a round that fails (the database restarting, say) is retried after a
    bounded backoff, never the end of the worker.
    """
    from relying_party.outbox.sender import deliver_due, run_forever

    ctx.require_schema()
    if loop:
        from relying_party.metrics import outbox_collector

        _log_to_stderr()
        _serve_metrics(ctx, "portal_mail", metrics_port, outbox_collector(ctx.database))
        run_forever(ctx.database, ctx.settings, interval)
        return
    report = deliver_due(ctx.database, ctx.settings)
    click.echo(f"{report.sent} envoyé(s), {report.retried} à réessayer, {report.failed} abandonné(s)")


@main.command("purge-sessions")
@pass_context
def purge_sessions(ctx: Context) -> None:
    """Remove expired entries of the SQL ephemeral store (Redis expires its own)."""
    from relying_party.store import build_store

    store = build_store(ctx.settings, ctx.database.engine)
    try:
        click.echo(f"{store.purge_expired()} entrée(s) supprimée(s)")
    finally:
        store.close()


main.add_command(audit_cli.audit)
main.add_command(ceremony_cli.ceremony)
main.add_command(ceremony_cli.trustee)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True)
def run(host: str, port: int) -> None:
    """Development server (production: granian --interface wsgi --factory relying_party:create_app)."""
    from relying_party import create_app

    create_app().run(host=host, port=port)


if __name__ == "__main__":
    main()
