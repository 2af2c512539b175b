"""Reading the portal's audit events back as plain values (:class:`hashchain.ChainedEvent`), streamed.

The verifier and the export read rows without the ORM identity map, so walking millions of events keeps memory
bounded; each row is checked and exported by :mod:`hashchain`, the code the IdP's log uses too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from relying_party.db import READ_ONLY
from relying_party.models import AuditEvent

#: The columns of an event, in the order :meth:`hashchain.ChainedEvent.from_row` expects.
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


@contextlib.contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: on SQLite a plain ``BEGIN`` (the portal's writers use ``BEGIN IMMEDIATE``, which
    would hold the write lock and stop voters for as long as an export runs); callers keep it short, one chain at a
    time for the verifier, so no snapshot is held for a whole verification."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        try:
            yield connection
        finally:
            connection.rollback()
