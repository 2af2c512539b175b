"""``idp voters import FILE``: the operators' command around :func:`idp.voters.importer.import_voters`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from idp.db import get_db
from idp.migrate import SchemaNotCurrent, check_current
from idp.security.keyed import KeyedHasher
from idp.voters.importer import DEFAULT_BATCH_SIZE, DEFAULT_MAX_ERRORS, FileChangedError, ImportReport, import_voters

voters = AppGroup("voters", help="Voters (électeurs): import from CSV.")


def register(main: click.Group) -> None:
    main.add_command(voters)


def _print_refusal(report: ImportReport) -> None:
    click.echo(
        f"Fichier refusé, rien n'a été importé : {report.bad_lines} ligne(s) en erreur sur {report.rows}.",
        err=True,
    )
    for error in report.errors:
        click.echo(str(error), err=True)
    if report.truncated:
        click.echo(
            f"… liste arrêtée après {len(report.errors)} erreurs (--max-errors 0 pour toutes les afficher).",
            err=True,
        )


@voters.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows written per statement.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_ERRORS,
    show_default=True,
    help="Problems listed when the file is refused (0: all of them).",
)
def import_command(file: Path, batch_size: int, max_errors: int) -> None:
    """Import (create or update) voters from a CSV file: all rows or none.

    Exits with status 1 and lists every bad line ("ligne N : raison") if the file is refused.
    """
    database = get_db()
    try:
        check_current(database.engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None
    keyed = current_app.extensions["idp.keyed"]
    assert isinstance(keyed, KeyedHasher)
    started = time.perf_counter()
    try:
        report = import_voters(database.sessionmaker, file, keyed, batch_size=batch_size, max_errors=max_errors or None)
    except FileChangedError as exc:
        raise click.ClickException(str(exc)) from None
    if not report.ok:
        _print_refusal(report)
        click.get_current_context().exit(1)
    elapsed = time.perf_counter() - started
    click.echo(
        f"Import terminé : {report.rows} ligne(s) lue(s), {report.created} électeur(s) créé(s), "
        f"{report.updated} mis à jour, {report.unchanged} inchangé(s) en {elapsed:.1f} s "
        f"(fichier sha256 {report.sha256})."
    )
