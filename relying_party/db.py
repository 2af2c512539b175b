"""Engine and sessions of the portal's own database, one :class:`Database` per application (no global state)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

EXTENSION_KEY = "portal.db"
#: Execution option of the connections that only read (see :func:`make_engine`).
READ_ONLY = "portal_read_only"
_G_SESSION = "_portal_db_session"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` transactions.

    ``BEGIN IMMEDIATE`` takes the write lock when a transaction starts, so two ballots cast at once queue up
    instead of one failing with "database is locked" when it upgrades its read snapshot. Connections marked
    ``read_only`` (:attr:`Database.reader`, the pages' reads) start a plain deferred transaction instead: in WAL
    mode it takes no lock, so a page that reads and then casts a ballot does not wait on itself.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are overwritten with zeros, not left in free space: once the ballot box is mixed, the rows it
        # deleted (in casting order) are gone from the file (README, "Ballot secrecy").
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine and session factory of one application.

    ``audit_key`` is the key of the voters' pseudonyms in the audit log (:mod:`relying_party.audit.pseudonym`),
    kept here because every service that writes an audit event is handed the database, inside a request or not.
    The web application passes its configured key; without one (scripts, benchmarks, operators' commands, which
    never pseudonymise a voter) the instance draws a random key: pseudonyms nobody can link to a voter.
    """

    def __init__(self, url: str, *, audit_key: bytes | None = None) -> None:
        self.url = url
        self.audit_key = audit_key if audit_key is not None else secrets.token_bytes(32)
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions that only read (pages, reports): no write lock on SQLite.
        self.reader = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction committed on success, rolled back on error.

        In a request, the request's read session is closed first (what it loaded stays readable): a request then
        holds one connection at a time, so a burst of requests cannot exhaust the pool with each one holding a
        reader while it waits for a writer.
        """
        if has_app_context() and current_app.extensions.get(EXTENSION_KEY) is self:
            release_read_session()
        with self.sessionmaker() as session, session.begin():
            yield session

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self

        @app.after_request
        def _release_session(response: Any) -> Any:
            # Before the server-side session is saved, which takes a connection of its own.
            release_read_session()
            return response

        @app.teardown_appcontext
        def _close_session(exc: BaseException | None) -> None:
            session: Session | None = g.pop(_G_SESSION, None)
            if session is not None:
                if exc is not None:
                    session.rollback()
                session.close()

    def truncate_wal(self) -> bool:
        """SQLite: copy the write-ahead log into the main file and truncate it to zero bytes.

        Until then the log keeps every page image written since its last reset, in commit order: the ballot box's
        pages with the émargement's. Waits for readers (busy timeout); returns False if some were still reading.
        Nothing to do on PostgreSQL.
        """
        if not self.is_sqlite:
            return True
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()
            cursor.close()
        finally:
            raw.close()
        return row is not None and int(row[0]) == 0

    def dispose(self) -> None:
        self.engine.dispose()


def get_db(app: Flask | None = None) -> Database:
    db = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(db, Database)
    return db


def release_read_session() -> None:
    """Close the request's read session now (objects it loaded stay readable, detached)."""
    session: Session | None = g.pop(_G_SESSION, None)
    if session is not None:
        session.close()


def get_session() -> Session:
    """The request's read session (one per application context), closed before the response is sent.

    Writes go through :meth:`Database.transaction`, in a transaction of their own.
    """
    session: Session | None = g.get(_G_SESSION)
    if session is None:
        session = get_db().reader()
        setattr(g, _G_SESSION, session)
    return session
