"""``idp codes issue``: the operators' command around :func:`idp.votecode.notices.issue_notices`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from idp.db import get_db
from idp.migrate import SchemaNotCurrent, check_current
from idp.security.keyed import KeyedHasher
from idp.votecode.notices import DEFAULT_BATCH_SIZE, DEFAULT_PAGES_PER_PDF, NoVotersError, issue_notices
from idp.votecode.output import OutputNotEmptyError

codes = AppGroup("codes", help="Vote codes: issue them and produce the notices for the print shop.")


def register(main: click.Group) -> None:
    main.add_command(codes)


@codes.command("issue")
@click.option(
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New or empty directory for the notices (CSV and PDFs); it will hold every code in clear.",
)
@click.option("--academie", default=None, help="Only the voters of this académie (as stored by the import).")
@click.option(
    "--portal-url",
    envvar="IDP_PORTAL_URL",
    default=None,
    help="Address of the voter portal printed on the notices [env IDP_PORTAL_URL; default IDP_PUBLIC_URL].",
)
@click.option("--no-pdf", is_flag=True, help="Write the CSV only (the print shop composes the notices itself).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Voters read and written per statement.",
)
@click.option(
    "--pages-per-pdf",
    type=click.IntRange(min=1),
    default=DEFAULT_PAGES_PER_PDF,
    show_default=True,
    help="Notices per PDF file (an académie larger than that gets numbered volumes).",
)
def issue_command(
    output: Path, academie: str | None, portal_url: str | None, no_pdf: bool, batch_size: int, pages_per_pdf: int
) -> None:
    """Give every voter (or one académie's) a NEW vote code and write their notices.

    The previous codes stop working when the command succeeds. Nothing changes if it fails.
    """
    database = get_db()
    try:
        check_current(database.engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from None
    hasher = current_app.extensions["idp.keyed"]
    assert isinstance(hasher, KeyedHasher)
    started = time.perf_counter()
    try:
        report = issue_notices(
            database.sessionmaker,
            hasher,
            output,
            portal_url=portal_url or str(current_app.config["PUBLIC_URL"]),
            academie=academie,
            pdf=not no_pdf,
            batch_size=batch_size,
            pages_per_pdf=pages_per_pdf,
        )
    except (NoVotersError, OutputNotEmptyError) as exc:
        raise click.ClickException(str(exc)) from None
    elapsed = time.perf_counter() - started
    click.echo(
        f"{report.voters} code(s) de vote émis pour {len(report.academies)} académie(s) en {elapsed:.1f} s "
        f"(codes {report.seconds_codes:.1f} s, CSV {report.seconds_csv:.1f} s, PDF {report.seconds_pdf:.1f} s)."
    )
    for path in report.files:
        click.echo(f"  {path}")
    click.secho(
        f"ATTENTION : {output} contient les codes de vote en clair (fichiers lisibles par vous seul). "
        "Transmettez-le à l'imprimeur par un canal chiffré, puis détruisez-le. Les codes précédents ne sont plus "
        "valables.",
        fg="yellow",
        err=True,
    )
    if (output.stat().st_mode & 0o077) != 0:
        click.secho(
            f"ATTENTION : le dossier {output} est accessible à d'autres utilisateurs (droits "
            f"{output.stat().st_mode & 0o777:o}).",
            fg="yellow",
            err=True,
        )
