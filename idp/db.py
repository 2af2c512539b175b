"""Engine and sessions, one :class:`Database` per application (no module-level global state)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

EXTENSION_KEY = "idp.db"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` transactions.

    ``BEGIN IMMEDIATE`` makes a writer wait for the lock at the start of its transaction instead of failing
    when it upgrades a read snapshot, which is what makes concurrent requests safe on the embedded default.
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """Holds the engine and the session factory of one application."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction committed on success, rolled back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self

        @app.teardown_appcontext
        def _close_session(exc: BaseException | None) -> None:
            session: Session | None = g.pop("_idp_db_session", None)
            if session is not None:
                if exc is not None:
                    session.rollback()
                session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def get_db(app: Flask | None = None) -> Database:
    db = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(db, Database)
    return db


def get_session() -> Session:
    """The request's session (one per application context), closed at teardown."""
    session: Session | None = g.get("_idp_db_session")
    if session is None:
        session = get_db().sessionmaker()
        g._idp_db_session = session
    return session
