"""The parts of the ``audit verify`` and ``audit export`` commands that every application shares (``idp audit``,
``portal audit``): the same options are parsed, refused and answered with the same words and exit codes.

Each application keeps its own command group and what only it has (the IdP's checkpoints and seals).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Collection
from pathlib import Path

import click

from hashchain.export import ExportFilter, export_to_file, parse_instant, write_export
from hashchain.format import format_instant
from hashchain.log import EventLog, Source
from hashchain.verify import VerifyReport


def instant(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.datetime | None:
    """Click callback of ``--since`` and ``--until``."""
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date or date-time: {value!r}") from None


def echo_verification(report: VerifyReport) -> bool:
    """Print the outcome of a verification (the first problem on standard error); True when the log is intact."""
    problem = report.first_problem
    if problem is None:
        click.echo(f"audit log intact: {report.events} events in {report.chains} chains")
        return True
    click.echo(f"audit log damaged: {problem.detail}", err=True)
    intact = format_instant(problem.intact_until) if problem.intact_until else "its first event"
    click.echo(f"chain {problem.chain} is intact up to {intact}", err=True)
    if len(report.problems) > 1:
        others = ", ".join(str(p.chain) for p in report.problems[1:])
        click.echo(f"later problems in other chains: {others}", err=True)
    return False


def export_filter(
    vocabulary: Collection[str],
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    types: tuple[str, ...],
    client_id: str | None = None,
    subject: str | None = None,
) -> ExportFilter:
    """The filter of ``audit export``'s options; a usage error (exit 2) for an unknown type or an empty window."""
    unknown = sorted(set(types) - set(vocabulary))
    if unknown:
        raise click.BadParameter(f"unknown event type(s): {', '.join(unknown)}", param_hint="--type")
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    return ExportFilter(
        since=since, until=until, types=tuple(dict.fromkeys(types)), client_id=client_id, subject=subject
    )


def export(source: Source, log: EventLog, filters: ExportFilter, output: Path | None) -> None:
    """Write the export to ``output`` (atomically) or standard output; the summary goes to standard error."""
    if output is None:
        count = write_export(source, log, sys.stdout, filters)
    else:
        count = export_to_file(source, log, output, filters)
    where = f" to {output}" if output else ""
    how = "complete export" if filters.complete else "filtered export: verify with --filtered"
    click.echo(f"{count} events exported{where} ({how})", err=True)
