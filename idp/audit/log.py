"""The IdP's audit log (table ``audit_event``) and how the IdP appends to it, in the caller's transaction.

The event is written with the change it records (an activation, a queued message): both commit or neither does.
Everything about chains, locks, hashing, verification and export is :mod:`hashchain`'s, shared with the portal; the
IdP brings its table, its vocabulary (plugins add to it), its lock key space and the number of chains
(``IDP_AUDIT_CHAINS``). The number of chains travels with the session the event is written in: the application
binds it to its database's sessions once (:func:`bind_chains`), so :func:`record` takes everything it needs from
its arguments and reads no application state.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

import hashchain
from hashchain import DEFAULT_CHAINS, ChainedEvent, EventLog, Source, VerifyReport, append
from hashchain.append import QueuedEvent, queue
from idp.audit.vocabulary import EVENT_TYPES
from idp.metrics import on_recorded
from idp.models import AuditEvent
from infra.db import READ_ONLY, Database

#: The IdP's log. Advisory-lock key space: an arbitrary constant, "audi" (the portal's is "port"). Verification and
#: export read on connections of their own that do not take SQLite's write lock (sign-ins go on meanwhile).
LOG = EventLog(AuditEvent.__table__, vocabulary=EVENT_TYPES, lock_space=0x61756469, read_options={READ_ONLY: True})
#: The columns of an event, in the order :meth:`hashchain.ChainedEvent.from_row` expects.
COLUMNS = LOG.columns


#: Key of the number of chains in a session's ``info`` (set by :func:`bind_chains`).
CHAINS_INFO = "idp.audit_chains"


def bind_chains(database: Database, chains: int) -> None:
    """Make ``chains`` (``IDP_AUDIT_CHAINS``) the number of chains of every session of ``database`` (its writers,
    its readers and its transactions)."""
    for factory in (database.sessionmaker, database.reader):
        factory.configure(info={CHAINS_INFO: chains})


def chain_count(session: Session) -> int:
    """The number of chains bound to ``session``'s database, or hashchain's default for a session made elsewhere
    (the chain only spreads contention: verification reads every chain there is)."""
    return int(session.info.get(CHAINS_INFO, DEFAULT_CHAINS))


def record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int | None = None,
    **data: Any,
) -> ChainedEvent:
    """Append one event to the log within ``session``'s transaction (written, not committed).

    ``data`` must hold no secret and no personal datum: pseudonymous references and outcomes only. The event is
    counted in the IdP's metrics once the transaction commits (:mod:`idp.metrics`).
    """
    event = append(
        session, LOG, type, subject=subject, client_id=client_id, chains=chains or chain_count(session), data=data
    )
    on_recorded(session, type, data, client_id)
    return event


def queue_record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int | None = None,
    **data: Any,
) -> QueuedEvent:
    """:func:`record`, queued in the caller's pipeline behind its own writes (:func:`hashchain.append.queue`):
    call ``.result()`` once the pipeline's block has ended."""
    queued = queue(
        session, LOG, type, subject=subject, client_id=client_id, chains=chains or chain_count(session), data=data
    )
    on_recorded(session, type, data, client_id)
    return queued


def verify(source: Source, *, event_types: Collection[str] | None = None, batch_size: int = 1000) -> VerifyReport:
    """Verify every chain of the log (:func:`hashchain.verify`); ``event_types`` defaults to the vocabulary, plugins'
    types included."""
    return hashchain.verify(source, LOG, event_types=event_types, batch_size=batch_size)
