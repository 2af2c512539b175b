"""Appending an event to a log, inside the caller's transaction: both commit or neither does.

No global lock: events are spread over several chains so that concurrent writers do not queue behind one. The
transaction owns the chain it appends to until it ends, so an append reads the chain's head and inserts after it,
with no savepoint and no retry:

* On PostgreSQL the writer takes a transaction-level advisory lock on a chain (``pg_try_advisory_xact_lock``, the
  log's key space and the chain number), trying the chains in random order; it only waits when every chain is held.
  The lock ends with the transaction, after its commit has made the new head visible; the next holder's statements
  (READ COMMITTED, PostgreSQL's default) then read that head. The try and the head's read travel in one query
  (two statements, one round trip); the head is used only if the lock was obtained.
* On SQLite the applications begin their writing transactions with ``BEGIN IMMEDIATE``: the database's write lock
  already serialises every writer.

All the events of one transaction go to the chain it already holds, in order (a transaction never holds two chains
of a log, so two writers cannot wait on each other). A lock taken inside a savepoint is released if that savepoint
is rolled back; the next append of the transaction then takes it again. The unique ``(chain, seq)`` index stays the
guard: a writer that bypassed this module would make a transaction fail, never fork a chain.

The caller's own pending rows are flushed *before* a chain is taken: a transaction that waits for a row lock (a
double click writing the same émargement) must not hold a chain meanwhile, and their errors are the caller's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, SessionTransaction

from hashchain.event import ChainedEvent
from hashchain.format import GENESIS, canonical_json, event_body, event_hash
from hashchain.log import EventLog

#: Chains of a log unless its application says otherwise: the opening rush of an election stays far from waiting
#: on a chain (``python -m benchmarks.audit_append`` measures 1 against 16).
DEFAULT_CHAINS = 16

_CLAIMS = "hashchain.chains_held"
_LOCK = text("SELECT pg_advisory_xact_lock(:space, :chain)")


@dataclass
class _Claims:
    """The chains a session's current transaction holds, one per log (kept in ``session.info``)."""

    #: The outermost transaction they belong to: once it has ended, the claims are void.
    transaction: weakref.ref[SessionTransaction]
    #: Log name -> (chain, whether its lock was taken outside any savepoint and so lasts until the end).
    chains: dict[str, tuple[int, bool]] = field(default_factory=dict)


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
    if type not in log.vocabulary:
        raise ValueError(f"unknown audit event type {type!r}: add it to the vocabulary")
    if chains < 1:
        raise ValueError(f"an audit log needs at least one chain, not {chains}")
    # Through JSON and back: fails now on values JSON cannot carry, and stores exactly what a reader will parse
    # (keys that are not strings, tuples… come back changed, so the stored text is the second serialisation).
    payload = json.loads(canonical_json(dict(data or {})))
    details = canonical_json(payload)
    session.flush()
    # Core statements on the session's connection, not ORM objects: this runs while the chain (and, on SQLite, the
    # database) is held, and the unit of work would about double that time (``benchmarks.portal_ballot``).
    connection = session.connection()
    chain, head = _chain(session, connection, log, chains)
    if head is _UNREAD:
        head = connection.execute(log.head, {"chain": chain}).first()
    seq, prev_hash = (int(head[0]) + 1, str(head[1])) if head is not None else (1, GENESIS)
    occurred_at = dt.datetime.now(dt.UTC)
    body = event_body(
        chain=chain, seq=seq, occurred_at=occurred_at, type=type, subject=subject, client_id=client_id, data=payload
    )
    written = ChainedEvent(
        id=0,
        chain=chain,
        seq=seq,
        occurred_at=occurred_at,
        type=type,
        subject=subject,
        client_id=client_id,
        data=details,
        prev_hash=prev_hash,
        hash=event_hash(prev_hash, body),
    )
    values = {name: getattr(written, name) for name in ChainedEvent.__dataclass_fields__ if name != "id"}
    return replace(written, id=connection.execute(log.insert, values).scalar_one())


#: The head of a chain not read yet (None is a chain with no event).
_UNREAD: Any = object()
#: ``SELECT pg_try_advisory_xact_lock(…); SELECT <the head of the chain>`` per (table, lock space, chain), with the
#: integers written in: one simple-protocol query, one round trip (see :func:`_try_lock_and_read_head`).
_LOCK_AND_HEAD: dict[tuple[str, int, int], str] = {}


def _try_lock_and_read_head(connection: Connection, log: EventLog, chain: int) -> tuple[bool, Any]:
    """PostgreSQL: try the chain's lock and read its head in one round trip; (locked, head row or None).

    Two statements in one query (the simple query protocol, no parameters): the second runs after the first has
    finished and, in READ COMMITTED, takes its own snapshot then, so it sees the head the previous holder committed
    before releasing the lock, exactly as a separate statement would. If the lock was not obtained, the head read is
    worthless and dropped.
    """
    key = (log.table.name, log.lock_space, chain)
    sql = _LOCK_AND_HEAD.get(key)
    if sql is None:
        dialect = connection.dialect
        head = log.head.params(chain=chain).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql = f"SELECT pg_try_advisory_xact_lock({int(log.lock_space)}, {int(chain)}); {head}"
        _LOCK_AND_HEAD[key] = sql
    result = connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
    cursor = result.cursor
    try:
        first = cursor.fetchone()
        locked = bool(first is not None and first[0])
        cursor.nextset()
        row = cursor.fetchone()
    finally:
        result.close()
    return locked, (tuple(row) if row is not None else None)


def _chain(session: Session, connection: Connection, log: EventLog, count: int) -> tuple[int, Any]:
    """The chain this transaction appends to in ``log`` (see the module docstring), and its head when it was read
    with the lock (else :data:`_UNREAD`)."""
    root = session.get_transaction()
    assert root is not None, "session.connection() has begun a transaction"
    claims = session.info.get(_CLAIMS)
    if not isinstance(claims, _Claims) or claims.transaction() is not root:
        claims = _Claims(weakref.ref(root))
        session.info[_CLAIMS] = claims
    postgres = connection.dialect.name == "postgresql"
    lasting = not session.in_nested_transaction()
    held = claims.chains.get(log.name)
    if held is not None:
        chain, taken_outside_savepoints = held
        if postgres and not taken_outside_savepoints:
            # Taken inside a savepoint, which may have been rolled back since: take it again (at once if still held).
            connection.execute(_LOCK, {"space": log.lock_space, "chain": chain})
            claims.chains[log.name] = (chain, lasting)
        return chain, _UNREAD
    order = random.sample(range(count), count)
    chain = order[0]
    if postgres:
        for candidate in order:
            locked, head = _try_lock_and_read_head(connection, log, candidate)
            if locked:
                claims.chains[log.name] = (candidate, lasting)
                return candidate, head
        connection.execute(_LOCK, {"space": log.lock_space, "chain": chain})
    claims.chains[log.name] = (chain, lasting)
    return chain, _UNREAD
