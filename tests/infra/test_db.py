"""The database of an app (infra.db): readers that take no lock on SQLite, writers that queue instead of failing, a
request that holds one connection at a time, and an engine that cannot write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, jsonify
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import OperationalError

from infra.db import Database, get_db, read_only_engine, request_session

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
