"""Export of a log as JSON lines, one event a line, for auditors: the same format for every log of the suite.

Each line is :meth:`ChainedEvent.export_line`: every input of the event's hash, so a third party can check it with
SHA-256 and string concatenation alone (``tools/verify_audit_export.py`` does, with Python's standard library only;
docs/auditors/export-format.md states the procedure for other languages). Lines are ordered by chain then seq, the
order the standalone verifier needs to check the links in one pass with memory bounded by the number of chains.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select

from hashchain.event import ChainedEvent
from hashchain.log import EventLog, Source


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
    #: Only the events of this client, or of this pseudonymous subject (all when None).
    client_id: str | None = None
    subject: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the export holds every event, so that the chains can be checked from their genesis."""
        return (
            self.since is None
            and self.until is None
            and not self.types
            and self.client_id is None
            and self.subject is None
        )

    def statement(self, log: EventLog) -> Select[Any]:
        query = select(*log.columns)
        if self.since is not None:
            query = query.where(log.c.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(log.c.occurred_at < self.until)
        if self.types:
            query = query.where(log.c.type.in_(self.types))
        if self.client_id is not None:
            query = query.where(log.c.client_id == self.client_id)
        if self.subject is not None:
            query = query.where(log.c.subject == self.subject)
        return query.order_by(log.c.chain, log.c.seq)


def export_lines(
    source: Source, log: EventLog, filters: ExportFilter | None = None, *, batch_size: int = 1000
) -> Iterator[str]:
    """The export, streamed: one statement, so PostgreSQL serves it from one consistent snapshot."""
    statement = (filters or ExportFilter()).statement(log).execution_options(yield_per=batch_size)
    with log.reading(source) as connection:
        result = connection.execute(statement)
        try:
            for row in result:
                yield ChainedEvent.from_row(row).export_line() + "\n"
        finally:
            result.close()


def write_export(source: Source, log: EventLog, out: IO[str], filters: ExportFilter | None = None) -> int:
    """Write the export to ``out``; returns the number of events written."""
    count = 0
    for line in export_lines(source, log, filters):
        out.write(line)
        count += 1
    return count


def export_to_file(source: Source, log: EventLog, path: Path, filters: ExportFilter | None = None) -> int:
    """Write the export to ``path`` atomically (mode 0600): an interrupted export must not leave a file that looks
    complete (a chain cut short still verifies, see the limits in docs/auditors/audit-log.md)."""
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
            count = write_export(source, log, handle, filters)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return count
