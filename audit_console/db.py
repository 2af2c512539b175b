"""The console's connection to the IdP's database: read-only, enforced by the database on every connection.

SQLite: the file is opened in ``mode=rw`` (never created) with ``PRAGMA query_only``, under which the library
refuses any write. PostgreSQL: ``default_transaction_read_only`` makes every transaction ``READ ONLY``, so the server
refuses any write. That holds whatever the code does; in production the console should in addition connect with a
role granted ``SELECT`` only (docs/auditors/console.md), which no statement of the session can lift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

EXTENSION_KEY = "audit_console.engine"


def read_only_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c default_transaction_read_only=on"})
    path = parsed.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ValueError("AUDIT_CONSOLE_DATABASE_URL must name the IdP's SQLite file (sqlite:///path)")
    engine = create_engine(
        f"sqlite:///file:{path}?mode=rw&uri=true", connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    return engine


def init_app(app: Flask) -> Engine:
    engine = read_only_engine(str(app.config["DATABASE_URL"]))
    app.extensions[EXTENSION_KEY] = engine
    return engine


def get_engine(app: Flask | None = None) -> Engine:
    engine: Any = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(engine, Engine)
    return engine
