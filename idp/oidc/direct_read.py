"""One prebuilt ``SELECT`` read outside any transaction, on PostgreSQL through psycopg directly.

Userinfo and a repeated introspection are a single read each (:mod:`idp.oidc.lean`). Through SQLAlchemy's
``Connection`` that read cost about 210 µs of CPU on the web side, measured in one process against a scratch
database (2,000 reads of the userinfo statement, load average about 7); the same statement on the same pooled
connection through psycopg, with its named-tuple rows, about 90 µs. What SQLAlchemy adds there is the
``Connection`` and its events, the execution context and the result set-up (which asks psycopg for a full
``cursor.description``): none of it is needed to read one row of a statement compiled once.

:class:`DirectRead` keeps what SQLAlchemy does that matters for the answer: the connection comes from the engine's
pool (its check at checkout included, so a pool recovers alone after a restart), the statement is SQLAlchemy's own
compiled text, and each value goes through its column type's result processor (:class:`infra.sqltypes.UTCDateTime`
gives aware UTC instants). The read runs in autocommit (no ``BEGIN``/``ROLLBACK`` round trips; one statement sees one
snapshot either way) and as a prepared statement. A connection that fails is invalidated, not returned to the pool,
and the error goes to the caller (the lean path then hands the request to Flask). On any other database (SQLite)
the statement runs through SQLAlchemy as before.

Inside a write transaction the same holds with :meth:`DirectRead.first_in` (the read on the session's own
connection, in its transaction) and :class:`hashchain.append.PipelinedWrite`, an ``INSERT`` or ``UPDATE``
compiled once and queued in the caller's pipeline (:func:`hashchain.append.pipeline`): the token grants send their
writes and their audit event in one round trip (:mod:`idp.oidc.lean`). psycopg's errors come back as SQLAlchemy's.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from psycopg.rows import tuple_row
from sqlalchemy import Connection, Engine, Select
from sqlalchemy.orm import Session

from hashchain.append import as_sqlalchemy_errors

Processor = Callable[[Any], Any] | None
Prepared = tuple[str, Any, list[Processor]]


def execute(cursor: Any, sql: str, params: Mapping[str, Any]) -> Any:
    """Run ``sql`` on a psycopg cursor as a prepared statement and return its first row (the one place the direct
    reads reach the database: tests count the statements here, as SQLAlchemy's events count the others)."""
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchone()


class DirectRead:
    """``statement`` (a ``SELECT`` of plain bound parameters) read for its first row with :meth:`first`."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._prepared: dict[Engine, Prepared | None] = {}

    def _for(self, engine: Engine) -> Prepared | None:
        """The compiled text, the row type and the result processors on ``engine``, or None off psycopg."""
        if engine in self._prepared:
            return self._prepared[engine]
        dialect = engine.dialect
        prepared: Prepared | None = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            columns = list(self.statement.selected_columns)
            row_type = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
            processors: list[Processor] = [
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
            ]
            prepared = (str(self.statement.compile(dialect=dialect)), row_type, processors)
        self._prepared[engine] = prepared
        return prepared

    def first(self, engine: Engine, params: Mapping[str, Any]) -> Any | None:
        """The first row (attributes named as the statement's columns), or None. ``engine``: off psycopg, the
        engine whose connection runs the statement (its execution options apply)."""
        prepared = self._for(engine)
        if prepared is None:
            with engine.connect() as connection:
                return connection.execute(self.statement, dict(params)).first()
        sql, row_type, processors = prepared
        pooled = engine.raw_connection()
        try:
            found = _read_autocommit(pooled, sql, params)
        finally:
            pooled.close()
        return _row(row_type, processors, found)

    @contextlib.contextmanager
    def holding(
        self, engine: Engine, writer: Engine, params: Mapping[str, Any]
    ) -> Iterator[tuple[Any | None, Callable[[], Connection] | None]]:
        """:meth:`first`, keeping its pooled connection for a write that may follow the read (one checkout for
        both): yields the row and, on psycopg, a function that gives a :class:`~sqlalchemy.Connection` of
        ``writer`` (the engine of the same pool, without ``engine``'s autocommit) on that same connection, out of
        autocommit again, for a session bound to it; off psycopg, None (the caller checks a connection out)."""
        prepared = self._for(engine)
        if prepared is None:
            yield self.first(engine, params), None
            return
        sql, row_type, processors = prepared
        pooled = engine.raw_connection()
        wrapped: list[Connection] = []
        try:
            found = _read_autocommit(pooled, sql, params)

            def connection() -> Connection:
                if not wrapped:
                    wrapped.append(Connection(writer, pooled))
                return wrapped[0]

            yield _row(row_type, processors, found), connection
        finally:
            # The connection's own close ends any transaction left and gives the pooled connection back.
            if wrapped:
                wrapped[0].close()
            else:
                pooled.close()

    def first_in(self, session: Session, params: Mapping[str, Any]) -> Any | None:
        """The first row read on ``session``'s connection, in its transaction (begun now if need be), or None."""
        connection = session.connection()
        prepared = self._for(connection.engine)
        if prepared is None:
            return connection.execute(self.statement, dict(params)).first()
        sql, row_type, processors = prepared
        driver: Any = connection.connection.driver_connection
        with as_sqlalchemy_errors(connection), driver.cursor(row_factory=tuple_row) as cursor:
            found = execute(cursor, sql, params)
        return _row(row_type, processors, found)


def _read_autocommit(pooled: Any, sql: str, params: Mapping[str, Any]) -> Any:
    """The first row of ``sql`` on a pooled psycopg connection, read in autocommit (no ``BEGIN``, no ``COMMIT``) and
    put back out of autocommit; a connection that failed is invalidated, not given back to the pool."""
    try:
        driver: Any = pooled.driver_connection
        driver.autocommit = True
        with driver.cursor(row_factory=tuple_row) as cursor:
            found = execute(cursor, sql, params)
        driver.autocommit = False
    except BaseException:
        pooled.invalidate()
        raise
    return found


def _row(row_type: Any, processors: list[Processor], found: Any) -> Any | None:
    if found is None:
        return None
    return row_type._make(
        value if process is None or value is None else process(value)
        for value, process in zip(found, processors, strict=True)
    )
