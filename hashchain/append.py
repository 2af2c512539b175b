"""Appending an event to a log, inside the caller's transaction: both commit or neither does.

No global lock: events are spread over several chains so that concurrent writers do not queue behind one. The
transaction owns the chain it appends to until it ends, so an append reads the chain's head and inserts after it,
with no savepoint and no retry:

* On PostgreSQL the writer takes a transaction-level advisory lock on a chain (``pg_try_advisory_xact_lock``, the
  log's key space and the chain number), trying the chains in random order; it only waits when every chain is held.
  The lock ends with the transaction, after its commit has made the new head visible; the next holder's statements
  (READ COMMITTED, PostgreSQL's default) then read that head.
* On SQLite the applications begin their writing transactions with ``BEGIN IMMEDIATE``: the database's write lock
  already serialises every writer.

**One round trip on PostgreSQL** (psycopg). The try of the lock and the event's ``INSERT`` travel together in
psycopg's pipeline mode, two statements: the first keeps the try's outcome in a setting local to the transaction
(``hashchain.locked``); the second, which takes its own snapshot once the first has finished, reads the chain's
head, inserts the event after it only if the lock was obtained, and returns its position. The event's hash is then
computed by PostgreSQL (``sha256``) from the head it read: the canonical JSON of the body is put together here, cut
around its ``seq`` (the one value, with ``prev_hash``, that only the head gives), so the database hashes exactly
the text this module would have hashed. The event returned is checked here with :func:`hashchain.format.event_hash`
before anything else happens: a hash that differs fails the append (and so the caller's transaction). What is
stored, hashed and verified is the same as before; the auditors' tools are unchanged. A caller with its own writes
to send in the same round trip queues the append in its pipeline (:func:`queue`, :func:`pipeline`).

All the events of one transaction go to the chain it already holds, in order (a transaction never holds two chains
of a log, so two writers cannot wait on each other). A lock taken inside a savepoint is released if that savepoint
is rolled back; the next append of the transaction then takes it again. The unique ``(chain, seq)`` index stays the
guard: a writer that bypassed this module would make a transaction fail, never fork a chain.

The caller's own pending rows are flushed (or, queued in a pipeline, sent) *before* a chain is taken: a transaction
that waits for a row lock (a double click writing the same émargement) must not hold a chain meanwhile, and their
errors are the caller's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Insert, TextClause, Update, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from hashchain.event import ChainedEvent
from hashchain.format import GENESIS, canonical_json, event_body_text, text_hash
from hashchain.log import FIELDS, EventLog

#: Chains of a log unless its application says otherwise: the opening rush of an election stays far from waiting
#: on a chain (``python -m benchmarks.audit_append`` measures 1 against 16).
DEFAULT_CHAINS = 16

_CLAIMS = "hashchain.chains_held"
_LOCK = text("SELECT pg_advisory_xact_lock(:space, :chain)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:space, :chain)")
#: The types of the values JSON reads back as they were written (exactly these: not their subclasses).
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass
class _Claims:
    """The chains a session's current transaction holds, one per log (kept in ``session.info``)."""

    #: The outermost transaction they belong to: once it has ended, the claims are void.
    transaction: weakref.ref[SessionTransaction]
    #: Log name -> (chain, whether its lock was taken outside any savepoint and so lasts until the end).
    chains: dict[str, tuple[int, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Draft:
    """An event before its chain and position are known."""

    log: EventLog
    type: str
    subject: str | None
    client_id: str | None
    #: The canonical JSON text of the data as a reader parses them (the stored ``data``).
    details: str
    occurred_at: dt.datetime

    def body(self, chain: int) -> tuple[str, str]:
        """The canonical JSON of the event's body on ``chain``, before and after its ``seq``
        (:func:`hashchain.format.event_body_text`)."""
        return event_body_text(
            chain=chain,
            occurred_at=self.occurred_at,
            type=self.type,
            subject=self.subject,
            client_id=self.client_id,
            data=self.details,
        )

    def event(self, id: int, chain: int, seq: int, prev_hash: str, hash: str) -> ChainedEvent:
        return ChainedEvent(
            id=id,
            chain=chain,
            seq=seq,
            occurred_at=self.occurred_at,
            type=self.type,
            subject=self.subject,
            client_id=self.client_id,
            data=self.details,
            prev_hash=prev_hash,
            hash=hash,
        )


def _draft(
    log: EventLog,
    type: str,
    subject: str | None,
    client_id: str | None,
    chains: int,
    data: Mapping[str, Any] | None,
) -> _Draft:
    if type not in log.vocabulary:
        raise ValueError(f"unknown audit event type {type!r}: add it to the vocabulary")
    if chains < 1:
        raise ValueError(f"an audit log needs at least one chain, not {chains}")
    return _Draft(log, type, subject, client_id, _details(data), dt.datetime.now(dt.UTC))


def _details(data: Mapping[str, Any] | None) -> str:
    """The canonical JSON text of ``data`` as a reader parses them, the stored ``data``. Serialised once: fails now
    on values JSON cannot carry. Data that JSON reshapes (keys that are not strings, values of other types) go
    through JSON and back, and the stored text is the second serialisation; plain data read back as they are, so
    their text already is."""
    value = data if type(data) is dict else dict(data or {})
    text = canonical_json(value)
    return text if _plain(value) else canonical_json(json.loads(text))


def _plain(value: Any) -> bool:
    """Whether JSON reads ``value`` (already serialised: no cycle) back as itself, so that its canonical text is
    that of what a reader parses: dictionaries with string keys, lists, tuples (read back as lists, spelt the same)
    and the scalars of :data:`_PLAIN_SCALARS`, each of exactly its type (a subclass may spell itself otherwise)."""
    kind = type(value)
    if kind is dict:
        return all(type(key) is str and (type(item) in _PLAIN_SCALARS or _plain(item)) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(type(item) in _PLAIN_SCALARS or _plain(item) for item in value)
    return kind in _PLAIN_SCALARS


def append(
    session: Session,
    log: EventLog,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = DEFAULT_CHAINS,
    data: Mapping[str, Any] | None = None,
) -> ChainedEvent:
    """Append one event to ``log`` within ``session``'s transaction (written, not committed); return it.

    ``type`` must be in the log's vocabulary; ``data`` must be JSON (it is stored as canonical JSON) and, by each
    application's rule, hold no secret and no personal datum.
    """
    draft = _draft(log, type, subject, client_id, chains, data)  # a bad type or data fail before the session is used
    with pipeline(session):
        queued = _queue_draft(session, draft, chains)
    return queued.result()


def append_alone(
    engine: Engine,
    log: EventLog,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = DEFAULT_CHAINS,
    data: Mapping[str, Any] | None = None,
) -> ChainedEvent:
    """:func:`append` as the whole of a short transaction of its own, committed when this returns (an event that is
    the whole change: a sign-in accepted). The same event, chain and checks; on psycopg without an ORM session
    around it (a Core transaction of ``engine``: its ``begin`` events apply), the lock and the INSERT in one round
    trip, then the commit."""
    if not _pipelined(engine):
        with Session(engine) as session, session.begin():
            return append(session, log, type, subject=subject, client_id=client_id, chains=chains, data=data)
    draft = _draft(log, type, subject, client_id, chains, data)
    statements = _statements(log, engine.dialect)
    with engine.begin() as connection, as_sqlalchemy_errors(connection):
        driver = _driver(connection)
        with driver.pipeline():
            sent = _send_insert(driver, statements, draft, random.randrange(chains), "try")  # noqa: S311 - spreads writers
        return _written(connection, draft, sent, chains)


@contextlib.contextmanager
def pipeline(session: Session) -> Iterator[Any]:
    """Pipeline mode on ``session``'s connection when it is psycopg's (its pending rows flushed first), for a
    caller that sends its own writes and :func:`queue`\\ s an append in the same round trip: yields the psycopg
    connection, or None on any other database (where :func:`queue` appends at once)."""
    session.flush()
    connection = session.connection()
    if not _pipelined(connection):
        yield None
        return
    driver = _driver(connection)
    with as_sqlalchemy_errors(connection), driver.pipeline():
        yield driver


def queue(
    session: Session,
    log: EventLog,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = DEFAULT_CHAINS,
    data: Mapping[str, Any] | None = None,
) -> QueuedEvent:
    """:func:`append`, queued behind the caller's own statements inside :func:`pipeline`: all travel in one round
    trip when the block ends. Call :meth:`QueuedEvent.result` after the block (before any other append of the
    transaction): it gives the event, or fails as :func:`append` would. Off psycopg the event is appended at once."""
    return _queue_draft(session, _draft(log, type, subject, client_id, chains, data), chains)


def _queue_draft(session: Session, draft: _Draft, chains: int) -> QueuedEvent:
    connection = session.connection()
    if not _pipelined(connection):
        return QueuedEvent(done=_append_portable(session, connection, draft, chains))
    if not _driver(connection).pgconn.pipeline_status:
        raise RuntimeError("hashchain.queue() is called inside hashchain.pipeline(session)")
    return _queue(session, connection, draft, chains)


# --- PostgreSQL through psycopg: one round trip ------------------------------------------------------------------


def send(cursor: Any, sql: str, params: Mapping[str, Any]) -> None:
    """Queue ``sql`` on a psycopg cursor in pipeline mode as a prepared statement (the one place these statements
    reach the database: tests count them here, as SQLAlchemy's events count the others)."""
    cursor.execute(sql, params, prepare=True)


def send_own(driver: Any, sql: str, params: Mapping[str, Any]) -> None:
    r"""Queue a caller's own statement (``sql`` in psycopg's placeholders) in the pipeline :func:`pipeline` yields,
    ahead of its :func:`queue`\ d append, through :func:`send`."""
    send(driver.cursor(), sql, params)


class PipelinedWrite:
    """``statement`` (an ``INSERT`` or ``UPDATE`` of plain bound parameters), compiled once per engine and sent with
    :meth:`send`: queued in the caller's :func:`pipeline` on psycopg, ahead of its :func:`queue`\\ d append;
    executed through the session elsewhere."""

    def __init__(self, statement: Insert | Update | TextClause) -> None:
        self.statement = statement
        self._prepared: dict[Engine, tuple[str, list[tuple[str, Callable[[Any], Any]]]]] = {}

    def _for(self, engine: Engine) -> tuple[str, list[tuple[str, Callable[[Any], Any]]]]:
        prepared = self._prepared.get(engine)
        if prepared is None:
            dialect = engine.dialect
            compiled = self.statement.compile(dialect=dialect)
            processors: list[tuple[str, Callable[[Any], Any]]] = []
            for name, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors.append((name, process))
            prepared = self._prepared[engine] = (compiled.string, processors)
        return prepared

    def send(self, session: Session, driver: Any, params: Mapping[str, Any]) -> Any:
        """Queue the statement on ``driver`` (the psycopg connection :func:`hashchain.append.pipeline` yields) and
        return its cursor, whose ``rowcount`` is known once the pipeline's round trip is done; with no driver,
        execute it through ``session`` now and return its result (``rowcount`` too)."""
        if driver is None:
            return session.execute(self.statement, dict(params))
        # The statement's text depends on the engine only: the session's bind when it has one (an engine, or the
        # connection the session is bound to), without asking the session for its connection again.
        bind = session.bind
        sql, processors = self._for(bind.engine if bind is not None else session.connection().engine)
        values = dict(params)
        for name, process in processors:
            values[name] = process(values[name])
        cursor = driver.cursor()
        send(cursor, sql, values)
        return cursor


@dataclass(frozen=True)
class _Statements:
    """A log's statements on PostgreSQL in psycopg's placeholders, built once per log and dialect."""

    #: Try the chain's lock; keep the outcome in ``hashchain.locked`` for the next statement.
    try_lock: str
    #: Wait for the chain's lock (every chain held, or a lock taken in a savepoint taken again).
    lock: str
    #: The event after the chain's head, hashed by the database; only if ``hashchain.locked`` (or always).
    insert_if_locked: str
    insert: str
    #: The ``occurred_at`` column's bind processor (the applications store naive UTC).
    instant: Callable[[Any], Any] | None


_STATEMENTS: dict[tuple[str, str], _Statements] = {}


def _statements(log: EventLog, dialect: Dialect) -> _Statements:
    key = (log.name, dialect.name)
    found = _STATEMENTS.get(key)
    if found is not None:
        return found
    quote = dialect.identifier_preparer
    table = quote.format_table(log.table)
    c = {name: quote.quote(name) for name in FIELDS}
    assert set(GENESIS) == {"0"}  # written into the text as a literal
    insert = (
        f"INSERT INTO {table} ({c['chain']}, {c['seq']}, {c['occurred_at']}, {c['type']}, {c['subject']}, "  # noqa: S608
        f"{c['client_id']}, {c['data']}, {c['prev_hash']}, {c['hash']}) "
        f"SELECT next.chain, next.seq, %(occurred_at)s, %(type)s::text, %(subject)s::text, %(client_id)s::text, "
        f"%(data)s::text, next.prev_hash, encode(sha256(convert_to(next.prev_hash || %(before_seq)s::text || "
        f"next.seq::text || %(after_seq)s::text, 'UTF8')), 'hex') "
        f"FROM (SELECT %(chain)s::integer AS chain, coalesce(head.seq, 0) + 1 AS seq, "
        f"coalesce(head.hash, '{GENESIS}')::text AS prev_hash FROM (SELECT 1) AS one LEFT JOIN "
        f"(SELECT {c['seq']} AS seq, {c['hash']} AS hash FROM {table} WHERE {c['chain']} = %(chain)s::integer "
        f"ORDER BY {c['seq']} DESC LIMIT 1) AS head ON true) AS next"
    )
    returning = f" RETURNING {c['id']}, {c['seq']}, {c['prev_hash']}, {c['hash']}"
    found = _Statements(
        try_lock="SELECT set_config('hashchain.locked', "
        "pg_try_advisory_xact_lock(%(space)s::integer, %(chain)s::integer)::text, true)",
        lock="SELECT pg_advisory_xact_lock(%(space)s::integer, %(chain)s::integer)",
        insert_if_locked=insert + " WHERE current_setting('hashchain.locked') = 'true'" + returning,
        insert=insert + returning,
        instant=log.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect),
    )
    _STATEMENTS[key] = found
    return found


class QueuedEvent:
    """An append sent (or to be sent) with the caller's statements; :meth:`result` gives the event."""

    def __init__(
        self,
        *,
        done: ChainedEvent | None = None,
        session: Session | None = None,
        connection: Connection | None = None,
        draft: _Draft | None = None,
        sent: _Sent | None = None,
        held: bool = False,
        count: int = 1,
    ) -> None:
        self._done = done
        self._session = session
        self._connection = connection
        self._draft = draft
        self._sent = sent
        #: Whether the chain was already this transaction's (no lock taken).
        self._held = held
        self._count = count

    def result(self) -> ChainedEvent:
        if self._done is not None:
            return self._done
        assert self._session is not None and self._connection is not None and self._draft is not None
        assert self._sent is not None
        with as_sqlalchemy_errors(self._connection):
            event = self._event(self._connection, self._draft, self._sent)
        if not self._held:
            claims = _claims_of(self._session)
            claims.chains[self._draft.log.name] = (event.chain, not self._session.in_nested_transaction())
        self._done = event
        return event

    def _event(self, connection: Connection, draft: _Draft, first: _Sent) -> ChainedEvent:
        return _written(connection, draft, first, self._count)


def _written(connection: Connection, draft: _Draft, first: _Sent, count: int) -> ChainedEvent:
    """The event the first INSERT wrote or, its chain held by another transaction, the one written on the next."""
    event = first.event(draft)
    if event is None:
        driver = _driver(connection)
        statements = _statements(draft.log, connection.dialect)
        others = [chain for chain in range(count) if chain != first.chain]
        random.shuffle(others)
        # The chain tried first was held by another transaction: the next ones; every chain held: wait for the
        # first one tried.
        for chain, lock in [*((other, "try") for other in others), (first.chain, "wait")]:
            with driver.pipeline():
                sent = _send_insert(driver, statements, draft, chain, lock)
            event = sent.event(draft)
            if event is not None:
                break
    assert event is not None, "an INSERT after a lock waited for always writes"
    return event


@contextlib.contextmanager
def as_sqlalchemy_errors(connection: Connection) -> Iterator[None]:
    """psycopg's errors raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``…), as if the statements
    had gone through SQLAlchemy: the callers' handlers (a database that cannot serve answers 503) see what they
    know; a connection lost is invalidated, not returned to the pool."""
    dialect = connection.dialect
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(None, None, error, base, connection_invalidated=lost, dialect=dialect) from error


def _pipelined(connection: Connection | Engine) -> bool:
    dialect = connection.dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _driver(connection: Connection) -> Any:
    return connection.connection.driver_connection


def _send_insert(driver: Any, statements: _Statements, draft: _Draft, chain: int, lock: str) -> _Sent:
    """Queue the lock (``"try"``, ``"wait"``, or ``"held"``: none) and the INSERT on one cursor, which keeps the
    INSERT's result (the last); return it with the text hashed around ``seq``."""
    cursor = driver.cursor()
    if lock != "held":
        send(
            cursor,
            statements.try_lock if lock == "try" else statements.lock,
            {"space": draft.log.lock_space, "chain": chain},
        )
    head, after = draft.body(chain)
    before = f"\n{head}"
    instant = draft.occurred_at if statements.instant is None else statements.instant(draft.occurred_at)
    send(
        cursor,
        statements.insert_if_locked if lock == "try" else statements.insert,
        {
            "chain": chain,
            "occurred_at": instant,
            "type": draft.type,
            "subject": draft.subject,
            "client_id": draft.client_id,
            "data": draft.details,
            "before_seq": before,
            "after_seq": after,
        },
    )
    return _Sent(cursor, chain, before, after)


@dataclass(frozen=True)
class _Sent:
    """An INSERT sent: its cursor, its chain, and the canonical body's text before and after ``seq``."""

    cursor: Any
    chain: int
    before: str
    after: str

    def event(self, draft: _Draft) -> ChainedEvent | None:
        """The event the INSERT wrote, checked; None if it wrote nothing (the chain's lock was not obtained)."""
        row = self.cursor.fetchone()
        if row is None:
            return None
        event = draft.event(int(row[0]), self.chain, int(row[1]), str(row[2]), str(row[3]))
        # The database hashed prev_hash + this text with the seq it gave: the body's canonical JSON cut around its
        # seq (format.event_body_text), hence format.event_hash of the body.
        text = f"{event.prev_hash}{self.before}{event.seq}{self.after}"
        if hashlib.sha256(text.encode()).hexdigest() != event.hash:
            raise RuntimeError(f"the database hashed audit event {event.chain}/{event.seq} differently: not stored")
        return event


def _queue(session: Session, connection: Connection, draft: _Draft, count: int) -> QueuedEvent:
    """Queue the lock and the INSERT of the first chain to try (or of the chain held) in the open pipeline."""
    driver = _driver(connection)
    statements = _statements(draft.log, connection.dialect)
    held = _claims_of(session).chains.get(draft.log.name)
    if held is None:
        sent = _send_insert(driver, statements, draft, random.randrange(count), "try")  # noqa: S311 - spreads writers
    elif held[1]:
        sent = _send_insert(driver, statements, draft, held[0], "held")
    else:
        # Taken inside a savepoint, which may have been rolled back since: take it again (at once if still held).
        sent = _send_insert(driver, statements, draft, held[0], "wait")
    lasting = held is not None and held[1]
    return QueuedEvent(session=session, connection=connection, draft=draft, sent=sent, held=lasting, count=count)


# --- SQLite, and PostgreSQL through another driver -----------------------------------------------------------------


def _append_portable(session: Session, connection: Connection, draft: _Draft, count: int) -> ChainedEvent:
    """The chain (see :func:`_chain`), its head read, the event hashed here and inserted: one statement each."""
    chain = _chain(session, connection, draft.log, count)
    head = connection.execute(draft.log.head, {"chain": chain}).first()
    seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head is not None else (1, GENESIS)
    before, after = draft.body(chain)
    written = draft.event(0, chain, seq, prev_hash, text_hash(prev_hash, f"{before}{seq}{after}"))
    values = {name: getattr(written, name) for name in ChainedEvent.__dataclass_fields__ if name != "id"}
    return draft.event(connection.execute(draft.log.insert, values).scalar_one(), chain, seq, prev_hash, written.hash)


def _claims_of(session: Session) -> _Claims:
    root = session.get_transaction()
    assert root is not None, "session.connection() has begun a transaction"
    claims = session.info.get(_CLAIMS)
    if not isinstance(claims, _Claims) or claims.transaction() is not root:
        claims = _Claims(weakref.ref(root))
        session.info[_CLAIMS] = claims
    return claims


def _chain(session: Session, connection: Connection, log: EventLog, count: int) -> int:
    """The chain this transaction appends to in ``log`` (see the module docstring)."""
    claims = _claims_of(session)
    postgres = connection.dialect.name == "postgresql"
    lasting = not session.in_nested_transaction()
    held = claims.chains.get(log.name)
    if held is not None:
        chain, taken_outside_savepoints = held
        if postgres and not taken_outside_savepoints:
            # Taken inside a savepoint, which may have been rolled back since: take it again (at once if still held).
            connection.execute(_LOCK, {"space": log.lock_space, "chain": chain})
            claims.chains[log.name] = (chain, lasting)
        return chain
    order = random.sample(range(count), count)
    chain = order[0]
    if postgres:
        for candidate in order:
            if connection.execute(_TRY_LOCK, {"space": log.lock_space, "chain": candidate}).scalar():
                claims.chains[log.name] = (candidate, lasting)
                return candidate
        connection.execute(_LOCK, {"space": log.lock_space, "chain": chain})
    claims.chains[log.name] = (chain, lasting)
    return chain
