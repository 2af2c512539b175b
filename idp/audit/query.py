"""Reading the log page by page, newest first, for the auditors' console (read-only: selects only).

Pagination is by key, not by offset: a page ends at an event, and the next page starts strictly before that
event's ``(occurred_at, id)``. Each page costs the same however deep the reader goes (``OFFSET`` would read and
discard every earlier row), and events appended meanwhile do not shift the pages already read. ``occurred_at`` has
its own index; the condition is written so that the index bounds the scan (``occurred_at <= t``) with the ``id``
only breaking ties.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from hashchain import ChainedEvent, Source, format_instant
from idp.audit.log import COLUMNS, LOG
from idp.models import AuditEvent

MAX_PAGE_SIZE = 200
_CURSOR_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)~(\d{1,18})")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """The position after which the next page starts (the last event of the previous page)."""

    occurred_at: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{format_instant(self.occurred_at)}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        match = _CURSOR_RE.fullmatch(text)
        if match is None:
            raise BadCursor(text[:80])
        instant = dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        return cls(instant, int(match.group(2)))

    def before(self) -> ColumnElement[bool]:
        return and_(
            AuditEvent.occurred_at <= self.occurred_at,
            or_(AuditEvent.occurred_at < self.occurred_at, AuditEvent.id < self.id),
        )


@dataclass(frozen=True)
class EventFilter:
    #: ``since <= occurred_at < until``, as the export.
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    types: tuple[str, ...] = ()
    client_id: str | None = None
    #: Pseudonymous subjects (any of them).
    subjects: tuple[str, ...] = ()

    def apply(self, query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        if self.since is not None:
            query = query.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.occurred_at < self.until)
        if self.types:
            query = query.where(AuditEvent.type.in_(self.types))
        if self.client_id:
            query = query.where(AuditEvent.client_id == self.client_id)
        if self.subjects:
            query = query.where(AuditEvent.subject.in_(self.subjects))
        return query


@dataclass(frozen=True)
class Page:
    events: tuple[ChainedEvent, ...]
    #: Where the next (older) page starts; None on the last page.
    next: Cursor | None


def newest_first(query: Select[*tuple[Any, ...]], *, after: Cursor | None, size: int) -> Select[*tuple[Any, ...]]:
    if after is not None:
        query = query.where(after.before())
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(size + 1)


def page_of_events(source: Source, filters: EventFilter, *, after: Cursor | None = None, size: int = 50) -> Page:
    """One page of events matching ``filters``, newest first, strictly before ``after``."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    with LOG.reading(source) as connection:
        rows = connection.execute(newest_first(filters.apply(select(*COLUMNS)), after=after, size=size)).all()
    events = tuple(ChainedEvent.from_row(row) for row in rows[:size])
    following = Cursor(events[-1].occurred_at, events[-1].id) if len(rows) > size else None
    return Page(events, following)
