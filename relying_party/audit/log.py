"""Appending events to the portal's audit log, in the caller's transaction.

The event is written with the change it records (an émargement and its ballot, a complaint): both commit or
neither does, so a vote rolled back (a double click refused by the émargement's primary key) leaves no event.

The same scheme as the IdP's log, written for the portal's own database: events are spread over :data:`CHAINS`
chains so that concurrent voters do not queue behind one lock. On PostgreSQL a writer takes a transaction-level
advisory lock on a chain with ``pg_try_advisory_xact_lock``, trying chains in random order, and only waits when every
chain is held; the lock key space differs from the IdP's, because the two may share one database. On SQLite the
portal's ``BEGIN IMMEDIATE`` transactions already serialise writers. All the events of one transaction go to the
chain it already holds, in order. The unique ``(chain, seq)`` index stays the last line of defence: a conflict is
retried in a savepoint.

Callers record *last* in their transaction: a transaction that waits for a row lock (an émargement being written by
a concurrent double click) then holds no chain meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from hashchain import GENESIS, ChainedEvent, canonical_json, event_body, event_hash
from relying_party.audit.vocabulary import EVENT_TYPES
from relying_party.models import AuditEvent, utcnow

if TYPE_CHECKING:
    from relying_party.db import Database

logger = logging.getLogger(__name__)

#: Chains of the log. The portal writes about one event per sign-in, vote-code step and ballot: 16 chains leave
#: the opening rush far from waiting on a chain (the IdP's benchmark ``audit_append`` measures the same scheme).
CHAINS = 16
MAX_ATTEMPTS = 50
#: Advisory-lock key space of the portal's chains (an arbitrary constant: "port"); the IdP's is "audi".
_LOCK_SPACE = 0x706F7274
_HELD_CHAIN = "relying_party.audit.held_chain"

_TABLE = cast("Table", AuditEvent.__table__)
_INSERTED = tuple(name for name in ChainedEvent.__dataclass_fields__ if name != "id")
_HEAD = (
    select(_TABLE.c.seq, _TABLE.c.hash)
    .where(_TABLE.c.chain == bindparam("chain"))
    .order_by(_TABLE.c.seq.desc())
    .limit(1)
)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = CHAINS,
    **data: Any,
) -> ChainedEvent:
    """Append one event to the log within ``session``'s transaction (flushed, not committed).

    ``subject`` is a voter's pseudonym (:func:`relying_party.audit.pseudonym.voter_reference`) or None. ``data``
    must hold no secret, no personal datum and nothing of a ballot's content: references, codes and counts only.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {type!r}: add it to the vocabulary")
    payload = json.loads(canonical_json(data))  # fail now on values JSON cannot carry
    details = canonical_json(payload)
    # The caller's own rows first, outside the savepoint below: their errors are theirs, never retried here.
    session.flush()
    chain = _choose_chain(session, chains)
    # Core statements on the session's connection, not ORM objects: this runs inside every ballot's transaction,
    # while SQLite's write lock is held, and the unit of work would double the time it is held (measured with
    # ``python -m benchmarks.portal_ballot``).
    connection = session.connection()
    for _ in range(MAX_ATTEMPTS):
        head = connection.execute(_HEAD, {"chain": chain}).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
        occurred_at = utcnow()
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
        values = {name: getattr(written, name) for name in _INSERTED}
        try:
            with session.begin_nested():
                event_id = connection.execute(_INSERT, values).scalar_one()
        except IntegrityError:
            logger.debug("portal audit chain %s: seq %s taken by a concurrent writer, retrying", chain, seq)
            continue
        return dataclasses.replace(written, id=event_id)
    raise RuntimeError(f"could not append to portal audit chain {chain} after {MAX_ATTEMPTS} attempts")


def _choose_chain(session: Session, count: int) -> int:
    """The chain this transaction appends to (see the module docstring)."""
    held = session.info.get(_HELD_CHAIN)
    if held is not None:
        return int(held)
    order = random.sample(range(count), count)
    chain = order[0]
    if session.get_bind().dialect.name == "postgresql":
        for candidate in order:
            if session.execute(
                text("SELECT pg_try_advisory_xact_lock(:space, :chain)"), {"space": _LOCK_SPACE, "chain": candidate}
            ).scalar_one():
                chain = candidate
                break
        else:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :chain)"), {"space": _LOCK_SPACE, "chain": chain}
            )
    session.info[_HELD_CHAIN] = chain
    return chain


@event.listens_for(Session, "after_transaction_end")
def _forget_chain(session: Session, transaction: SessionTransaction) -> None:
    """The advisory lock ends with the outermost transaction; so does the session's claim on the chain."""
    if transaction.parent is None:
        session.info.pop(_HELD_CHAIN, None)


def record_alone(database: Database, type: str, *, subject: str | None = None, **data: Any) -> None:
    """Record an event that is the whole change (a sign-in accepted) in a short transaction of its own."""
    with database.transaction() as session:
        record(session, type, subject=subject, **data)
