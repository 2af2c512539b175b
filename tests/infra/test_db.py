"""The database of an app (infra.db): readers that take no lock on SQLite, writers that queue instead of failing, a
request that holds one connection at a time, an engine that cannot write; on PostgreSQL, a pool that pings only the
connections that need it and statements that stay prepared across rollbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask, jsonify
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from infra import db as infra_db
from infra.db import Database, get_db, read_only_engine, request_session
from tests import backends

METADATA = MetaData()
COUNTER = Table("counter", METADATA, Column("id", Integer, primary_key=True), Column("n", Integer, nullable=False))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    METADATA.create_all(db.engine)
    with db.transaction() as session:
        session.execute(insert(COUNTER).values(id=1, n=0))
    yield db
    db.dispose()


def test_a_reader_takes_no_lock_and_a_writer_waits_for_the_lock_instead_of_failing(database: Database) -> None:
    with database.reader() as reading:
        assert reading.execute(select(COUNTER.c.n)).scalar_one() == 0
        # A reader holds a deferred transaction: a writer commits meanwhile.
        with database.transaction() as session:
            session.execute(COUNTER.update().values(n=1))
        reading.rollback()
    # Two writers at once: the second waits for the first's lock (BEGIN IMMEDIATE), neither fails.
    order: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with database.transaction() as session:
            session.execute(COUNTER.update().values(n=COUNTER.c.n + 1))
            first_holds.set()
            time.sleep(0.3)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_holds.wait(5)
    with database.transaction() as session:
        session.execute(COUNTER.update().values(n=COUNTER.c.n + 1))
        order.append("second")
    thread.join(5)
    assert order == ["first", "second"]
    with database.reader() as session:
        assert session.execute(select(COUNTER.c.n)).scalar_one() == 3


def test_a_request_holds_one_connection_at_a_time(database: Database) -> None:
    """The request's reader is closed before a write transaction and before the response (the portal's fix)."""
    app = Flask(__name__)
    database.init_app(app)
    seen: dict[str, int] = {}

    @app.post("/write")
    def write() -> object:
        request_session().execute(select(COUNTER.c.n)).scalar_one()
        seen["during_read"] = database.engine.pool.checkedout()  # type: ignore[attr-defined]
        with get_db().transaction() as session:
            session.execute(COUNTER.update().values(n=COUNTER.c.n + 1))
            seen["during_write"] = database.engine.pool.checkedout()  # type: ignore[attr-defined]
        return jsonify(n=request_session().execute(select(COUNTER.c.n)).scalar_one())

    response = app.test_client().post("/write")
    assert response.status_code == 200 and response.get_json() == {"n": 1}
    assert seen == {"during_read": 1, "during_write": 1}, "the reader was released before the writer opened"
    assert database.engine.pool.checkedout() == 0, "nothing held after the response"  # type: ignore[attr-defined]


def test_a_writer_request_session_commits_itself(database: Database) -> None:
    app = Flask(__name__)
    database.init_app(app, request_session="writer")

    @app.post("/bump")
    def bump() -> object:
        session = request_session()
        session.execute(COUNTER.update().values(n=COUNTER.c.n + 5))
        session.commit()
        return jsonify(ok=True)

    @app.post("/forget")
    def forget() -> object:
        request_session().execute(COUNTER.update().values(n=COUNTER.c.n + 100))
        return jsonify(ok=True)  # not committed: rolled back when the request's session is closed

    client = app.test_client()
    assert client.post("/bump").status_code == 200
    assert client.post("/forget").status_code == 200
    with database.reader() as session:
        assert session.execute(select(COUNTER.c.n)).scalar_one() == 5


def test_the_read_only_engine_refuses_every_write_and_never_creates_a_file(database: Database, tmp_path: Path) -> None:
    engine = read_only_engine(database.url)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(COUNTER)).scalar_one() == 1
    with pytest.raises(OperationalError, match="readonly"), engine.begin() as connection:
        connection.execute(text("DELETE FROM counter"))
    engine.dispose()
    missing = read_only_engine(f"sqlite:///{tmp_path / 'absent.sqlite3'}")
    with pytest.raises(OperationalError):
        missing.connect()
    missing.dispose()
    assert not (tmp_path / "absent.sqlite3").exists()
    with pytest.raises(ValueError, match="CONSOLE_DATABASE_URL must name an existing SQLite file"):
        read_only_engine("sqlite://", setting="CONSOLE_DATABASE_URL")


# --- PostgreSQL: the pool's check at checkout, prepared statements kept across rollbacks ---------------------------


@pytest.fixture
def pg_database(postgres: backends.PostgresDatabase | str) -> Iterator[Database]:
    """A Database on the session's PostgreSQL database (the IdP's schema), with pings counted."""
    if isinstance(postgres, str):
        backends.unavailable(postgres)
    assert isinstance(postgres, backends.PostgresDatabase)
    db = Database(postgres.url)
    yield db
    db.dispose()


def count_pings(engine: Engine) -> list[int]:
    """A list whose length is the number of pings ``engine`` sends from now on."""
    pings: list[int] = []
    dialect: Any = engine.dialect
    do_ping = dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(do_ping(dbapi_connection))

    dialect.do_ping = counting
    return pings


def backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(pid: int) -> None:
    with psycopg.connect(backends.PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)


def test_a_connection_used_moments_ago_is_not_pinged_and_a_dead_one_is_replaced(pg_database: Database) -> None:
    pings = count_pings(pg_database.engine)
    with pg_database.transaction() as session:
        first = backend_pid(session)
    with pg_database.transaction() as session:
        assert backend_pid(session) == first, "the pool hands the same connection out again"
    assert pings == [], "no ping for a connection used moments ago that the server said nothing on"

    terminate(first)  # as a restart does to every connection: its FATAL message, then the close
    with pg_database.reader() as session:
        replaced = backend_pid(session)
    assert replaced != first, "the dead connection was found at checkout and replaced"
    assert len(pings) == 1, "found by the one ping its readable socket asked for"

    # A connection idle for longer than IDLE_PING_SECONDS is pinged (a cut without a word is not readable).
    with pg_database.engine.connect() as connection:
        record: Any = connection.connection._connection_record
    record.info[infra_db._RETURNED_AT] -= infra_db.IDLE_PING_SECONDS + 1  # returned to the pool that long ago
    with pg_database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert len(pings) == 2


def test_statements_stay_prepared_on_a_connection_across_a_rollback(pg_database: Database) -> None:
    query = text("SELECT count(*) FROM voter WHERE id > :floor")
    with pg_database.engine.connect() as connection:
        for _ in range(2):  # prepared the second time it runs on the connection
            connection.execute(query, {"floor": 0}).scalar_one()
            connection.rollback()  # a read ended without a commit, as a page's or a refused answer's
        prepared = connection.execute(
            text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'SELECT count(*) FROM voter%'")
        ).scalars()
        assert list(prepared) == ["SELECT count(*) FROM voter WHERE id > $1"]
        connection.rollback()
        still = connection.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        assert still >= 1, "a rollback deallocated nothing"


def test_a_rollback_on_a_connection_that_died_invalidates_it_and_the_next_request_is_served(
    pg_database: Database,
) -> None:
    session = pg_database.sessionmaker()
    pid = backend_pid(session)  # a transaction is open on this connection
    terminate(pid)
    with pytest.raises(OperationalError) as raised:
        session.rollback()  # the ROLLBACK meets the server's farewell: psycopg's own rollback raises its error
    assert raised.value.connection_invalidated, "SQLAlchemy saw a disconnect: the connection is not pooled again"
    session.close()
    with pg_database.transaction() as again:
        assert backend_pid(again) != pid
