"""``portal audit verify`` and ``portal audit export``: the same commands, output and exit codes as ``idp audit``
(the shared parts are :mod:`hashchain.cli`).

Operators' commands: they need only ``PORTAL_DATABASE_URL`` (the shared :class:`relying_party.cli.Context`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hashchain.cli import echo_verification, export, export_filter, instant

if TYPE_CHECKING:
    from relying_party.cli import Context


def _context() -> Context:
    # Imported here: relying_party.cli registers this group, so importing it at module level would be circular.
    from relying_party.cli import Context

    return click.get_current_context().ensure_object(Context)


@click.group("audit")
def audit() -> None:
    """Tamper-evident audit log of the portal."""


@audit.command("verify")
@click.option(
    "--every",
    type=click.FloatRange(min=0),
    default=0,
    help="Verify again every this many seconds until SIGTERM, for the metrics (0: once, then exit 0 or 1).",
)
@click.option(
    "--metrics-port", type=click.IntRange(min=0), default=None, help="With --every: default PORTAL_METRICS_PORT."
)
def verify_command(every: float, metrics_port: int | None) -> None:
    """Check every hash chain; exit 1 naming the first event altered, deleted or reordered."""
    from relying_party.audit.log import verify

    context = _context()
    context.require_schema()
    if every:
        from infra.audit_watch import verify_every
        from infra.logs import configure

        configure()
        settings = context.settings
        verify_every(
            "portal",
            every,
            lambda: verify(context.database.engine),
            metrics_port=int(settings.get("METRICS_PORT") or 0) if metrics_port is None else metrics_port,
            metrics_bind=str(settings.get("METRICS_BIND") or "127.0.0.1"),
        )
        return
    if not echo_verification(verify(context.database.engine)):
        click.get_current_context().exit(1)


@audit.command("export")
@click.option("--since", callback=instant, help="Events at or after this ISO 8601 instant (UTC if no offset).")
@click.option("--until", callback=instant, help="Events strictly before this ISO 8601 instant.")
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
    from relying_party.audit.log import LOG
    from relying_party.audit.vocabulary import EVENT_TYPES

    filters = export_filter(EVENT_TYPES, since=since, until=until, types=types)
    context = _context()
    context.require_schema()
    export(context.database.engine, LOG, filters, output)
