"""Export of the audit log as JSON lines, one event a line, for auditors.

Each line carries every input of the event's hash, so a third party can check it with SHA-256 and string
concatenation alone (``tools/verify_audit_export.py`` does, using only Python's standard library;
docs/auditors/export-format.md states the procedure for other languages). ``data`` is exported as the canonical JSON
*text* that was hashed, not as a nested object: re-serialising an object would require reproducing the writer's JSON
canonicalisation (key order, number formatting) exactly, which is the hard part to get identical in another language.

Lines are ordered by chain then seq, which is the order the standalone verifier needs to check the links in one
pass with memory bounded by the number of chains.
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

from idp.audit.stored import COLUMNS, Source, StoredEvent, connect
from idp.models import AuditEvent


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

    def statement(self) -> Select[*tuple[Any, ...]]:
        query = select(*COLUMNS)
        if self.since is not None:
            query = query.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.occurred_at < self.until)
        if self.types:
            query = query.where(AuditEvent.type.in_(self.types))
        if self.client_id is not None:
            query = query.where(AuditEvent.client_id == self.client_id)
        if self.subject is not None:
            query = query.where(AuditEvent.subject == self.subject)
        return query.order_by(AuditEvent.chain, AuditEvent.seq)


def line_of(event: StoredEvent) -> str:
    """One event as a JSON line (ASCII only: non-ASCII characters travel as ``\\u`` escapes, whatever the encoding)."""
    return event.export_line()


def export_lines(source: Source, filters: ExportFilter, *, batch_size: int = 1000) -> Iterator[str]:
    """The export, streamed: one statement, so PostgreSQL serves it from one consistent snapshot."""
    with connect(source) as connection:
        result = connection.execute(filters.statement().execution_options(yield_per=batch_size))
        try:
            for row in result:
                yield line_of(StoredEvent.from_row(row)) + "\n"
        finally:
            result.close()


def write_export(source: Source, out: IO[str], filters: ExportFilter | None = None) -> int:
    """Write the export to ``out``; returns the number of events written."""
    count = 0
    for line in export_lines(source, filters or ExportFilter()):
        out.write(line)
        count += 1
    return count


def export_to_file(source: Source, path: Path, filters: ExportFilter | None = None) -> int:
    """Write the export to ``path`` atomically: an interrupted export must not leave a file that looks complete
    (a chain cut short still verifies, see the limits in docs/auditors/audit-log.md)."""
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
            count = write_export(source, handle, filters)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return count
