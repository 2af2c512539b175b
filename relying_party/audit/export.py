"""``portal audit export``: the log as JSON lines, in exactly the IdP's export format.

Each line is :meth:`hashchain.ChainedEvent.export_line`, the code behind ``idp audit export`` too, so the third-party
procedure (docs/auditors/export-format.md) and ``tools/verify_audit_export.py`` verify the portal's exports
unchanged. Lines are ordered by chain then seq, the order the standalone verifier needs to check the links in one pass.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, Select, select

from hashchain import ChainedEvent
from relying_party.audit.stored import COLUMNS, connect
from relying_party.models import AuditEvent


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC (the log's own time zone)."""
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class ExportFilter:
    #: Events with ``since <= occurred_at < until``: half-open, so consecutive windows neither overlap nor miss.
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    #: Only these types (all when empty).
    types: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the export holds every event, so that the chains can be checked from their genesis."""
        return self.since is None and self.until is None and not self.types

    def statement(self) -> Select[*tuple[Any, ...]]:
        query = select(*COLUMNS)
        if self.since is not None:
            query = query.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.occurred_at < self.until)
        if self.types:
            query = query.where(AuditEvent.type.in_(self.types))
        return query.order_by(AuditEvent.chain, AuditEvent.seq)


def export_lines(engine: Engine, filters: ExportFilter, *, batch_size: int = 1000) -> Iterator[str]:
    """The export, streamed: one statement, so PostgreSQL serves it from one consistent snapshot."""
    with connect(engine) as connection:
        result = connection.execute(filters.statement().execution_options(yield_per=batch_size))
        try:
            for row in result:
                yield ChainedEvent.from_row(row).export_line() + "\n"
        finally:
            result.close()


def write_export(engine: Engine, out: IO[str], filters: ExportFilter | None = None) -> int:
    """Write the export to ``out``; returns the number of events written."""
    count = 0
    for line in export_lines(engine, filters or ExportFilter()):
        out.write(line)
        count += 1
    return count


def export_to_file(engine: Engine, path: Path, filters: ExportFilter | None = None) -> int:
    """Write the export to ``path`` atomically (mode 0600): an interrupted export must not leave a file that looks
    complete (a chain cut short still verifies)."""
    path = path.resolve()
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, before the rename
        "w",
        encoding="ascii",
        newline="\n",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".partial",
        delete=False,
    )
    try:
        with handle:
            count = write_export(engine, handle, filters)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return count
