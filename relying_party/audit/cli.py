"""``portal audit verify`` and ``portal audit export``: the same commands, output and exit codes as ``idp audit``.

Operators' commands: they need only ``PORTAL_DATABASE_URL`` (the shared :class:`relying_party.cli.Context`).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from relying_party.cli import Context


def _context() -> Context:
    # Imported here: relying_party.cli registers this group, so importing it at module level would be circular.
    from relying_party.cli import Context

    return click.get_current_context().ensure_object(Context)


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    from relying_party.audit.export import parse_instant

    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date or date-time: {value!r}") from None


@click.group("audit")
def audit() -> None:
    """Tamper-evident audit log of the portal."""


@audit.command("verify")
def verify_command() -> None:
    """Check every hash chain; exit 1 naming the first event altered, deleted or reordered."""
    from hashchain import format_instant
    from relying_party.audit.verify import verify

    context = _context()
    context.require_schema()
    report = verify(context.database.engine)
    problem = report.first_problem
    if problem is None:
        click.echo(f"audit log intact: {report.events} events in {report.chains} chains")
        return
    click.echo(f"audit log damaged: {problem.detail}", err=True)
    intact = format_instant(problem.intact_until) if problem.intact_until else "its first event"
    click.echo(f"chain {problem.chain} is intact up to {intact}", err=True)
    if len(report.problems) > 1:
        others = ", ".join(str(p.chain) for p in report.problems[1:])
        click.echo(f"later problems in other chains: {others}", err=True)
    click.get_current_context().exit(1)


@audit.command("export")
@click.option("--since", callback=_instant, help="Events at or after this ISO 8601 instant (UTC if no offset).")
@click.option("--until", callback=_instant, help="Events strictly before this ISO 8601 instant.")
@click.option("--type", "types", multiple=True, help="Only this event type (repeatable).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file (atomically, mode 0600) instead of standard output.",
)
def export_command(
    since: dt.datetime | None, until: dt.datetime | None, types: tuple[str, ...], output: Path | None
) -> None:
    """Export the log as JSON lines, one event a line, ordered by chain and seq (the IdP's export format)."""
    from relying_party.audit.export import ExportFilter, export_to_file, write_export
    from relying_party.audit.vocabulary import EVENT_TYPES

    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise click.BadParameter(f"unknown event type(s): {', '.join(unknown)}", param_hint="--type")
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    context = _context()
    context.require_schema()
    filters = ExportFilter(since=since, until=until, types=tuple(dict.fromkeys(types)))
    engine = context.database.engine
    count = write_export(engine, sys.stdout, filters) if output is None else export_to_file(engine, output, filters)
    where = f" to {output}" if output else ""
    how = "complete export" if filters.complete else "filtered export: verify with --filtered"
    click.echo(f"{count} events exported{where} ({how})", err=True)
