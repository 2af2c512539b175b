"""The append on PostgreSQL through psycopg's pipeline: the try of a chain's lock and the INSERT in one round trip,
the event hashed by the database and checked here; a caller's own writes queued in the same round trip
(:func:`hashchain.append.queue`). On SQLite (and any other driver) the same calls append at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, OperationalError

from hashchain import verify
from infra.db import is_unavailable
from tests.hashchain.conftest import Target, appending, statements


def test_a_queued_append_travels_with_the_callers_writes(target: Target) -> None:
    with target.transaction() as session:
        with appending.pipeline(session) as driver:
            if target.postgres:
                assert driver is not None and driver.pgconn.pipeline_status  # in pipeline mode
                driver.cursor().execute("SELECT 1")  # the caller's own statement, queued first
            else:
                assert driver is None
            queued = appending.queue(session, target.log, target.type, subject="sujet-fictif", data={"rang": 1})
        event = queued.result()
        assert queued.result() is event
        then = target.append(session, rang=2)
    assert (event.seq, then.seq, then.prev_hash) == (1, 2, event.hash)
    assert target.events() == [event, then]
    assert verify(target.engine, target.log).ok


def test_queue_outside_the_pipeline_is_refused(postgres_target: Target) -> None:
    with postgres_target.transaction() as session, pytest.raises(RuntimeError, match=r"inside hashchain\.pipeline"):
        appending.queue(session, postgres_target.log, postgres_target.type)


def test_a_hash_the_database_computed_differently_fails_the_append(
    postgres_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database hashes what it is sent; the event it returns is checked against the format's own hash before
    the caller goes on. Sent a text that is not the event's, the append fails and the transaction with it."""
    target = postgres_target
    send = appending.send

    def altered(cursor: Any, sql: str, params: Any) -> None:
        if "after_seq" in params:
            params = {**params, "after_seq": params["after_seq"].replace("}", " }", 1)}
        send(cursor, sql, params)

    monkeypatch.setattr(appending, "send", altered)
    with pytest.raises(RuntimeError, match="hashed audit event"), target.transaction() as session:
        target.append(session, rang=1)
    assert target.events() == []


def _hold(target: Target, chain: int) -> tuple[Any, Any]:
    """Another transaction holding ``chain`` (its connection and transaction, to release it)."""
    other = target.engine.connect()
    transaction = other.begin()
    lock = text("SELECT pg_advisory_xact_lock(:space, :chain)")
    other.execute(lock, {"space": target.log.lock_space, "chain": chain})
    return other, transaction


def test_a_held_chain_is_skipped_without_writing_to_it(postgres_target: Target) -> None:
    target = postgres_target
    other, transaction = _hold(target, 0)
    try:
        with statements(target) as sent:
            for rank in range(6):  # the chain tried first is 0 or 1 at random: both orders are seen
                with target.transaction() as session:
                    assert target.append(session, chains=2, rang=rank).chain == 1
    finally:
        transaction.rollback()
        other.close()
    assert [e.seq for e in target.events()] == list(range(1, 7))
    tries = [s for s in sent if "pg_try_advisory_xact_lock" in s]
    assert 6 <= len(tries) <= 12 and len([s for s in sent if s.startswith("INSERT")]) == len(tries)
    assert verify(target.engine, target.log).ok


def test_a_writer_waits_when_every_chain_is_held(postgres_target: Target) -> None:
    target = postgres_target
    [first] = target.record(1)
    other, transaction = _hold(target, 0)
    written: list[Any] = []
    writer = threading.Thread(target=lambda: written.extend(target.record(1, chains=1, start=1)))
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive() and written == []  # waiting for chain 0
    transaction.rollback()
    other.close()
    writer.join(timeout=30)
    [then] = written
    assert (then.chain, then.seq, then.prev_hash) == (0, 2, first.hash)
    assert verify(target.engine, target.log).ok


def test_an_error_in_the_pipeline_is_sqlalchemys_and_writes_nothing(postgres_target: Target) -> None:
    """A statement of the round trip that fails (here the caller's own, before the append) fails the transaction
    with SQLAlchemy's exception, as it would have through SQLAlchemy: the callers' handlers know it."""
    target = postgres_target
    with pytest.raises(DataError, match="division by zero"), target.transaction() as session:
        with appending.pipeline(session) as driver:
            driver.cursor().execute("SELECT 1 / 0")
            queued = appending.queue(session, target.log, target.type, data={"rang": 1})
        queued.result()
    assert target.events() == []
    target.record(1)  # the pool's connection is usable again
    assert [e.seq for e in target.events()] == [1]


def test_a_connection_lost_during_the_append_is_unavailable_and_replaced(postgres_target: Target) -> None:
    """The database gone mid-transaction (here its backend terminated): the append fails with SQLAlchemy's
    ``OperationalError``, the connection invalidated, which the applications answer 503; the pool then hands out
    a working connection."""
    target = postgres_target
    with pytest.raises(OperationalError) as raised, target.transaction() as session:
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with target.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        target.append(session, rang=1)
    assert raised.value.connection_invalidated and is_unavailable(raised.value)
    target.record(1)
    assert [e.seq for e in target.events()] == [1]


def test_an_event_alone_is_its_own_transaction_committed_on_return(target: Target) -> None:
    """:func:`hashchain.append_alone` (a sign-in accepted): the event committed when it returns, the chain intact;
    on PostgreSQL only the lock's try and the INSERT are sent (one round trip, then the commit), no ORM session."""
    [before] = target.record(1)
    with statements(target) as sent:
        event = appending.append_alone(
            target.engine, target.log, target.type, subject="sujet-fictif", chains=1, data={"rang": 1}
        )
    assert (event.seq, event.prev_hash, event.subject) == (2, before.hash, "sujet-fictif")
    assert target.events() == [before, event]  # read on another connection: committed
    assert verify(target.engine, target.log).ok
    if target.postgres:
        assert len(sent) == 2 and "pg_try_advisory_xact_lock" in sent[0] and sent[1].startswith("INSERT")
    else:
        assert sent[0] == "BEGIN IMMEDIATE" and sent[-1].startswith("INSERT")


def test_an_event_alone_skips_a_held_chain_and_fails_whole_on_a_wrong_hash(
    postgres_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = postgres_target
    other, transaction = _hold(target, 0)
    try:
        for rank in range(4):
            written = appending.append_alone(target.engine, target.log, target.type, chains=2, data={"rang": rank})
            assert written.chain == 1
    finally:
        transaction.rollback()
        other.close()
    send = appending.send

    def altered(cursor: Any, sql: str, params: Any) -> None:
        if "after_seq" in params:
            params = {**params, "after_seq": params["after_seq"].replace("}", " }", 1)}
        send(cursor, sql, params)

    monkeypatch.setattr(appending, "send", altered)
    with pytest.raises(RuntimeError, match="hashed audit event"):
        appending.append_alone(target.engine, target.log, target.type, chains=2, data={"rang": 9})
    assert [e.seq for e in target.events()] == [1, 2, 3, 4]  # rolled back: nothing of the fifth
    assert verify(target.engine, target.log).ok
