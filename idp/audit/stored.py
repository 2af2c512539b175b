"""Audit events as read back from the database, and the checks of one event against its own hash.

The verifier and the export read rows as plain immutable values (no ORM identity map), so walking millions of events
keeps memory bounded. Events are checked with :class:`hashchain.ChainedEvent`, on the format the writer uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from hashchain import ChainedEvent
from idp.models import AuditEvent

#: An event read back from the database: the one type both logs (IdP and portal) use to check an event against its
#: hash and to write its export line (:mod:`hashchain.event`).
StoredEvent = ChainedEvent

#: The columns of an event, in the order :meth:`StoredEvent.from_row` expects.
COLUMNS = (
    AuditEvent.id,
    AuditEvent.chain,
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.type,
    AuditEvent.subject,
    AuditEvent.client_id,
    AuditEvent.data,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)

Source = Session | Engine | Connection


@contextlib.contextmanager
def connect(source: Source) -> Iterator[Connection]:
    """A connection to read from: the caller's own (session or connection), or a fresh one from an engine.

    With an engine, each call is its own short transaction, so a long verification does not hold one snapshot (and,
    on SQLite, the write lock) for its whole duration.
    """
    if isinstance(source, Session):
        yield source.connection()
    elif isinstance(source, Connection):
        yield source
    else:
        with source.connect() as connection:
            yield connection
