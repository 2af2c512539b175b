"""The database of an app: its engine, writer and reader sessions, transactions, and the request's session.

One :class:`Database` per application, kept in ``app.extensions`` (no module-level state: two apps run side by side
in one process, as the tests do). SQLite, the embedded default, gets WAL, a busy timeout, foreign keys and
``BEGIN IMMEDIATE`` transactions: a writer waits for the lock when its transaction starts instead of failing with
"database is locked" when it upgrades a read snapshot. Sessions that only read (:attr:`Database.reader`) start a
plain deferred transaction instead, which in WAL mode takes no lock at all, so a page that reads and then writes
does not wait on itself and readers never queue behind writers.

In a request, :func:`request_session` hands out one session per application context. It is released before the
response is sent (before the server-side session is saved, which takes a connection of its own) and, when it is a
reader, before :meth:`Database.transaction` opens a write transaction: a request holds one connection at a time, so
a burst of requests cannot exhaust the pool with each one holding a reader while it waits for a writer.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from flask import Flask, current_app, g, has_app_context
from psycopg import pq
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

#: Execution option of the connections that only read: on SQLite their transactions start deferred (no lock).
READ_ONLY = "infra_read_only"
EXTENSION_KEY = "infra.db"
_G_SESSION = "_infra_request_session"
_G_READING = "_infra_reading_until_write"

#: Which session a request gets from :func:`request_session`: a reader (writes go through
#: :meth:`Database.transaction`), or a writer that the request's code commits itself.
RequestSession = Literal["reader", "writer"]


#: Seconds libpq waits for each host of the URL to accept a connection (``connect_timeout``), unless the URL says.
#: A host that does not answer (a primary lost with its machine) then costs this long before the next host of a
#: multi-host URL is tried, instead of the operating system's minutes.
CONNECT_TIMEOUT = 3
#: SQLSTATE classes of PostgreSQL that mean "the database cannot serve now", whatever the request: connection
#: exceptions (08), insufficient resources (53, e.g. too many connections), operator intervention (57P: shutdown,
#: restart, cannot connect now), and a write sent to a standby (25006, read-only transaction).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "25006")


def make_engine(url: str, *, secure_delete: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``; on SQLite with WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` writers.

    On PostgreSQL (psycopg), a pooled connection is checked before use without a round trip unless it needs one
    (:func:`check_on_checkout`: a pool recovers alone after a restart or a failover), statements run more than once
    on a connection are prepared there and stay prepared across rollbacks (:func:`keep_prepared_statements`), and
    a connection's establishment is bounded (:data:`CONNECT_TIMEOUT`). A multi-host URL
    (``?host=a:5432&host=b:5432&target_session_attrs=read-write``) makes libpq try each host in turn and keep the
    one that accepts writes: the apps follow a promoted standby without a change of configuration.

    ``secure_delete`` (SQLite): deleted rows are overwritten with zeros, not left in the file's free space, for data
    whose deletion must really remove it (the ballot box once mixed). On SQLite a writer waits for the lock up to
    30 s, or the URL's ``?timeout=`` seconds.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT, **kwargs.get("connect_args", {})}
        if parsed.get_dialect().driver == "psycopg" and not kwargs.get("pool_pre_ping"):
            kwargs["connect_args"] = {"prepare_threshold": PREPARE_THRESHOLD, **kwargs.get("connect_args", {})}
            engine = create_engine(url, **kwargs)
            check_on_checkout(engine)
            keep_prepared_statements(engine)
            plain_begin_after_autocommit(engine)
            return engine
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy_timeout = float(str(parsed.query.get("timeout") or 30))
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_timeout, "isolation_level": None}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if secure_delete:
            cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


#: A pooled connection idle for longer than this is pinged before use (one round trip); one used more recently is
#: pinged only if the server said something on it since (see :func:`check_on_checkout`).
IDLE_PING_SECONDS = 5.0
#: psycopg prepares a statement on a connection the second time it runs there (its default: the sixth). The
#: parse and analysis are then done once per connection, and after five executions PostgreSQL may keep a generic
#: plan instead of planning each one.
PREPARE_THRESHOLD = 1
#: Statements psycopg keeps prepared per connection (least recently used evicted; its default is 100).
PREPARED_MAX = 256
#: ``record.info`` key: when the connection was last returned to the pool (``time.monotonic()``).
_RETURNED_AT = "infra_returned_at"


def _server_spoke(dbapi_connection: Any) -> bool:
    """Whether the server sent something on this idle connection since its last answer: bytes to read, or the end
    of the stream. An idle connection gets nothing unless the server ends it (its ``FATAL`` message before a
    shutdown, restart or termination, then the close; or a close by the kernel when the server process dies) or
    reports something unasked (a notice, a setting changed by a reload)."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):  # a closed connection has no socket
        return True
    return bool(readable)


def check_on_checkout(engine: Engine) -> None:
    """Check each connection the pool hands out, as ``pool_pre_ping`` did, without its round trip when not needed.

    ``pool_pre_ping`` sends an empty query at every checkout: a round trip on every request's path, several per
    request. Here a connection is pinged only when the server sent something on it since it was last used (its
    socket is readable: a restart, a shutdown or a terminated backend sends its ``FATAL`` message and closes), or
    when it has been idle for more than :data:`IDLE_PING_SECONDS` (a connection cut without a word, by a firewall
    or a machine lost, is not readable: a ping finds it when it has been idle long enough for that to matter). A
    connection whose ping fails is replaced, and the pool's other connections older than it are replaced at their
    next checkout, as the pre-ping did.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()
        driver: Any = dbapi_connection
        driver.prepared_max = PREPARED_MAX

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle = time.monotonic() - record.info.get(_RETURNED_AT, 0.0)
        if idle <= IDLE_PING_SECONDS and not _server_spoke(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except psycopg.Error as exc:
            # As the pre-ping: this connection is replaced, and so are the pool's others older than it.
            raise sa_exc.InvalidatePoolError(f"ping failed: {type(exc).__name__}") from exc


def keep_prepared_statements(engine: Engine) -> None:
    """End a transaction rolled back without psycopg forgetting the statements prepared on the connection.

    psycopg deallocates every prepared statement of a connection at each ``ROLLBACK`` (in case the transaction
    created or dropped what they refer to; the apps' transactions never change the schema, and PostgreSQL
    revalidates a prepared statement whose tables changed anyway). A request that reads and ends its transaction
    without committing, or an answer refused and rolled back, would otherwise make every statement start again on
    that connection: parsed, analysed and planned at each execution, prepared again after the threshold. The
    ``ROLLBACK`` is sent as psycopg sends it; if it does not end the transaction (a connection that broke), psycopg's
    own rollback runs and raises its error, which SQLAlchemy handles as before.
    """
    dialect = engine.dialect
    driver_rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        driver: Any = getattr(dbapi_connection, "driver_connection", None) or dbapi_connection
        info = driver.info
        if info.transaction_status == pq.TransactionStatus.IDLE:
            return
        with driver.lock:
            result = driver.pgconn.exec_(b"ROLLBACK")
        if result.status != pq.ExecStatus.COMMAND_OK or info.transaction_status != pq.TransactionStatus.IDLE:
            driver_rollback(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def plain_begin_after_autocommit(engine: Engine) -> None:
    """Give a connection that read in autocommit (:attr:`Database.autocommit_reader`) back to the pool as it was
    made: outside autocommit, at the server's default isolation level, which psycopg then does not name.

    SQLAlchemy's reset sets the level it read from the server at the first connection explicitly, and psycopg then
    opens every later transaction of that connection with ``BEGIN ISOLATION LEVEL READ COMMITTED`` instead of
    ``BEGIN``: the same transaction, about 8 µs of PostgreSQL's execution instead of 1 (``pg_stat_statements``).
    An engine given an ``isolation_level`` of its own keeps SQLAlchemy's reset.
    """
    dialect: Any = engine.dialect
    if dialect._on_connect_isolation_level is not None:
        return

    def reset_isolation_level(dbapi_connection: Any) -> None:
        driver: Any = getattr(dbapi_connection, "driver_connection", None) or dbapi_connection
        driver.autocommit = False
        driver.isolation_level = None

    dialect.reset_isolation_level = reset_isolation_level


def _psycopg_autocommit_reader(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose connection is put in psycopg's autocommit when the session begins, before any statement, and
    taken out of it when the pool gets it back: the same reads outside any transaction as SQLAlchemy's
    ``isolation_level="AUTOCOMMIT"``, without its engine of options, whose events and connection characteristics
    cost a read about as much Python as the ``BEGIN`` and ``ROLLBACK`` round trips they spare."""
    readers = sessionmaker(engine, expire_on_commit=False)

    @event.listens_for(readers, "after_begin")
    def _autocommit(session: Session, transaction: Any, connection: Any) -> None:
        driver: Any = connection.connection.driver_connection
        driver.autocommit = True

    @event.listens_for(engine.pool, "checkin")
    def _back_in_a_transaction(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if dbapi_connection is not None and dbapi_connection.autocommit and not dbapi_connection.closed:
            dbapi_connection.autocommit = False

    return readers


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means that the database cannot serve now (stopped, restarting, failing over,
    saturated, or SQLite's file locked past its busy timeout), rather than that the request or the code is wrong.

    Such an error is answered « service momentanément indisponible » (503) and makes a worker wait and retry; any
    other error is a bug, answered 500 and logged with its traceback.
    """
    if isinstance(error, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True  # no connection free in the pool in time, or none could be made
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if type(original).__module__.startswith("sqlite3"):
        # sqlite3 raises OperationalError for plain mistakes too ("no such table"): only these mean unavailable.
        message = str(original).lower()
        return isinstance(error, sa_exc.OperationalError) and any(
            word in message for word in ("locked", "unable to open", "disk i/o")
        )
    sqlstate = str(getattr(original, "sqlstate", None) or "")
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    # psycopg's OperationalError and InterfaceError: the server's and the connection's failures.
    return isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError))


def read_only_engine(url: str, *, setting: str = "DATABASE_URL") -> Engine:
    """An engine that cannot write, whatever the code does: for a reader of another app's database.

    SQLite: the file is opened in ``mode=rw`` (never created) with ``PRAGMA query_only``, under which the library
    refuses any write. PostgreSQL: ``default_transaction_read_only`` makes every transaction ``READ ONLY``, so the
    server refuses any write. ``setting`` names the variable in the message refusing an unusable SQLite URL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {"options": "-c default_transaction_read_only=on"}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        if parsed.get_dialect().driver != "psycopg":
            return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        engine = create_engine(url, connect_args={"prepare_threshold": PREPARE_THRESHOLD, **connect_args})
        check_on_checkout(engine)
        keep_prepared_statements(engine)
        return engine
    path = parsed.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ValueError(f"{setting} must name an existing SQLite file (sqlite:///path)")
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


class Database:
    """The engine and session factories of one application."""

    def __init__(
        self,
        url: str,
        *,
        engine: Engine | None = None,
        secure_delete: bool = False,
        autocommit_pages: bool = False,
    ) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url, secure_delete=secure_delete)
        #: Sessions that write: on SQLite their transactions take the write lock when they start.
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions that only read (pages, reports): no lock on SQLite.
        self.reader = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        #: Sessions whose reads need no transaction (:func:`read_until_write`): outside any on PostgreSQL, the
        #: deferred readers on SQLite.
        self.autocommit_reader = self.reader
        if self.engine.dialect.name == "postgresql":
            self.autocommit_reader = sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True}),
                expire_on_commit=False,
            )
            if self.engine.dialect.driver == "psycopg":
                self.autocommit_reader = _psycopg_autocommit_reader(self.engine)
        #: The request's reader sessions (:func:`request_session`). With ``autocommit_pages`` they are
        #: :attr:`autocommit_reader`'s: on PostgreSQL a page's reads run outside any transaction, no ``BEGIN`` and
        #: ``ROLLBACK`` round trips around them (and with psycopg, without SQLAlchemy's engine of options, about 50 us
        #: of Python a page fewer). Under READ COMMITTED each statement takes its own snapshot inside a transaction
        #: too, so a page reads the same rows; what needs a transaction (server-side cursors, ``yield_per``) uses
        #: :attr:`reader`.
        self.page_reader = self.autocommit_reader if autocommit_pages else self.reader
        self.request_kind: RequestSession = "reader"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction committed on success, rolled back on error.

        In a request whose session only reads, that session is closed first (what it loaded stays readable): the
        request then holds one connection at a time.
        """
        self.before_writing()
        with self.sessionmaker() as session, session.begin():
            yield session

    def before_writing(self) -> None:
        """Before a transaction that writes: in a request whose session only reads, close that session (what it
        loaded stays readable), so that the request holds one connection at a time."""
        if self.request_kind == "reader" and has_app_context() and current_app.extensions.get(EXTENSION_KEY) is self:
            release_request_session()

    def init_app(self, app: Flask, *, request_session: RequestSession = "reader") -> None:
        """Make this the database of ``app`` and close the request's session at the end of every request."""
        self.request_kind = request_session
        app.extensions[EXTENSION_KEY] = self

        @app.after_request
        def _release_session(response: Any) -> Any:
            # Before the server-side session is saved, which takes a connection of its own.
            release_request_session()
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

        Until then the log keeps every page image written since its last reset, in commit order. Waits for readers
        (busy timeout); returns False if some were still reading. Nothing to do on PostgreSQL.
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
    """The database of ``app`` (default: the current app)."""
    db = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(db, Database)
    return db


def request_session() -> Session:
    """The current request's session (one per application context), closed before the response is sent."""
    session: Session | None = g.get(_G_SESSION)
    if session is None:
        db = get_db()
        session = (db.page_reader if db.request_kind == "reader" else db.sessionmaker)()
        setattr(g, _G_SESSION, session)
    return session


def read_until_write() -> None:
    """Have the request's session read outside any transaction until :func:`begin_writes` (PostgreSQL; on SQLite a
    deferred reader, which takes no lock): no ``BEGIN`` and ``COMMIT``/``ROLLBACK`` round trips around a step that
    only reads. Under READ COMMITTED each statement takes its own snapshot inside a transaction too, so the step
    reads the same rows. Does nothing if the request already has a session (its reads stay where they are).
    """
    if g.get(_G_SESSION) is None:
        setattr(g, _G_SESSION, get_db().autocommit_reader())
        setattr(g, _G_READING, True)


def begin_writes() -> Session:
    """The request's session for writing: after :func:`read_until_write`, its reader is closed (what it loaded
    stays readable, detached) and a session of the request's own kind takes its place, whose writes are in one
    transaction; otherwise the request's session as it is."""
    if g.pop(_G_READING, False):
        release_request_session()
    return request_session()


def is_reading() -> bool:
    """Whether the request's session is still the reader of :func:`read_until_write`."""
    return bool(g.get(_G_READING, False)) and g.get(_G_SESSION) is not None


def release_request_session() -> None:
    """Close the request's session now (objects it loaded stay readable, detached)."""
    g.pop(_G_READING, None)
    session: Session | None = g.pop(_G_SESSION, None)
    if session is not None:
        session.close()
