"""One application's audit log as :mod:`hashchain` sees it: a table, a vocabulary, a lock key space.

Each application keeps its own model, migrations and vocabulary, and describes them once with an :class:`EventLog`;
every shared function (append, verify, export, heads) takes that description. The table must have the columns of
:class:`hashchain.ChainedEvent` (``id`` plus the hashed fields, ``prev_hash`` and ``hash``) and a unique index on
``(chain, seq)``, the guard that stops two writers from forking a chain whatever happens.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Column, Connection, Engine, FromClause, Insert, Select, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from hashchain.event import ChainedEvent

#: The columns of an event, in the order :meth:`ChainedEvent.from_row` reads them.
FIELDS = tuple(field.name for field in dataclasses.fields(ChainedEvent))

#: Where events are read from: the caller's session or connection (its transaction), or an engine (a short
#: transaction of its own per call, so that a long walk neither holds one snapshot nor blocks writers).
Source = Session | Connection | Engine


class EventLog:
    """A table of chained events, with what writing and reading it needs to know.

    ``vocabulary`` is the application's own mapping of event types (kept by reference: types a plugin registers
    later are known). ``lock_space`` is the first key of the PostgreSQL advisory locks that give a transaction its
    chain: two logs that may share one database need different spaces. ``read_options`` are execution options put
    on connections that only read (the portal's engine starts those without SQLite's write lock).
    """

    def __init__(
        self,
        table: FromClause,
        *,
        vocabulary: Mapping[str, str],
        lock_space: int,
        read_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(table, Table):
            raise TypeError(f"an audit log is stored in a table, not in {table!r}")
        missing = [name for name in FIELDS if name not in table.c]
        if missing:
            raise ValueError(f"table {table.name} lacks the audit event column(s) {', '.join(missing)}")
        self.table = table
        self.vocabulary = vocabulary
        self.lock_space = lock_space
        self.read_options = dict(read_options or {})
        #: Every column of an event, in :data:`FIELDS` order (``select(*log.columns)`` reads ChainedEvents).
        self.columns: tuple[Column[Any], ...] = tuple(table.c[name] for name in FIELDS)
        #: The table's columns by name, to build queries (``log.c.chain``…).
        self.c = table.c
        #: The last event of the chain bound as ``chain`` (its seq and hash), through the unique index.
        self.head: Select[tuple[Any, Any]] = (
            select(self.c.seq, self.c.hash)
            .where(self.c.chain == bindparam("chain"))
            .order_by(self.c.seq.desc())
            .limit(1)
        )
        #: One event, every column but ``id``, which the database returns.
        self.insert: Insert = insert(table).returning(self.c.id)

    @property
    def name(self) -> str:
        return self.table.fullname

    def __repr__(self) -> str:
        return f"EventLog({self.name})"

    @contextlib.contextmanager
    def reading(self, source: Source) -> Iterator[Connection]:
        """A connection to read from: the caller's own (session or connection), or a fresh one from an engine,
        opened with :attr:`read_options` and rolled back when done (it only ever reads)."""
        if isinstance(source, Session):
            yield source.connection()
        elif isinstance(source, Connection):
            yield source
        else:
            with source.execution_options(**self.read_options).connect() as connection:
                try:
                    yield connection
                finally:
                    connection.rollback()
