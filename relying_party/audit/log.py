"""The portal's audit log (table ``portal_audit_event``) and how the portal appends to it, in the caller's
transaction.

The event is written with the change it records (an émargement and its ballot, a complaint): both commit or
neither does, so a vote rolled back (a double click refused by the émargement's primary key) leaves no event.
Chains, locks, hashing, verification and export are :mod:`hashchain`'s, the IdP's code too: the portal brings its
table, its vocabulary, its own advisory-lock key space (the two logs may share one PostgreSQL database) and the
read-only connections of its engine (an export or a verification must not hold SQLite's write lock while voters
vote).

Callers record *last* in their transaction: the append first writes their pending rows, so a transaction that waits
for a row lock (an émargement being written by a concurrent double click) holds no chain meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

import hashchain
from hashchain import DEFAULT_CHAINS, ChainedEvent, EventLog, ExportFilter, VerifyReport, append, append_alone
from hashchain.append import QueuedEvent, queue
from relying_party.audit.vocabulary import EVENT_TYPES
from relying_party.db import READ_ONLY
from relying_party.models import AuditEvent

if TYPE_CHECKING:
    from relying_party.db import Database

#: The portal's log. Advisory-lock key space: an arbitrary constant, "port" (the IdP's is "audi").
LOG = EventLog(AuditEvent.__table__, vocabulary=EVENT_TYPES, lock_space=0x706F7274, read_options={READ_ONLY: True})
#: Chains of the log. The portal writes about one event per sign-in, vote-code step and ballot: 16 chains leave
#: the opening rush far from waiting on a chain (``python -m benchmarks.portal_ballot``).
CHAINS = DEFAULT_CHAINS


def record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = CHAINS,
    **data: Any,
) -> ChainedEvent:
    """Append one event to the log within ``session``'s transaction (written, not committed).

    ``subject`` is a voter's pseudonym (:func:`relying_party.audit.pseudonym.voter_reference`) or None. ``data``
    must hold no secret, no personal datum and nothing of a ballot's content: references, codes and counts only.
    """
    return append(session, LOG, type, subject=subject, client_id=client_id, chains=chains, data=data)


def queue_record(
    session: Session,
    type: str,
    *,
    subject: str | None = None,
    client_id: str | None = None,
    chains: int = CHAINS,
    **data: Any,
) -> QueuedEvent:
    """:func:`record`, queued in the caller's pipeline behind its own writes (:func:`hashchain.append.queue`):
    call ``.result()`` once the pipeline's block has ended."""
    return queue(session, LOG, type, subject=subject, client_id=client_id, chains=chains, data=data)


def record_alone(database: Database, type: str, *, subject: str | None = None, **data: Any) -> None:
    """Record an event that is the whole change (a sign-in accepted) in a short transaction of its own, committed
    when this returns (:func:`hashchain.append.append_alone`: no ORM session around it)."""
    database.before_writing()
    append_alone(database.engine, LOG, type, subject=subject, chains=CHAINS, data=data)


def verify(engine: Engine, *, event_types: Collection[str] | None = None, batch_size: int = 1000) -> VerifyReport:
    """``portal audit verify`` (:func:`hashchain.verify`): each chain read in a short read-only transaction."""
    return hashchain.verify(engine, LOG, event_types=event_types, batch_size=batch_size)


def export_lines(engine: Engine, filters: ExportFilter | None = None, *, batch_size: int = 1000) -> Iterator[str]:
    """The export (:func:`hashchain.export_lines`), streamed from one read-only transaction."""
    return hashchain.export_lines(engine, LOG, filters, batch_size=batch_size)
