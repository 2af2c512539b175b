"""Audit events as read back from the database, and the checks of one event against its own hash.

The verifier and the export read rows as plain immutable values (no ORM identity map), so walking millions of events
keeps memory bounded. Hashes are recomputed with :mod:`idp.audit.chain`, the module the writer uses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from idp.audit.chain import canonical_json, event_body, event_hash
from idp.models import AuditEvent

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

#: Where the top-level ``seq`` sits in a canonical body (keys are sorted: chain, client_id, data, occurred_at, seq,
#: subject, type). Only ``data`` comes before it and may hold the same characters, hence the search from the right;
#: ``subject`` and ``type`` are JSON strings, in which a quote is always escaped, so they cannot hold the marker.
_SEQ_MARKER = '"seq":0,'

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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    chain: int
    seq: int
    occurred_at: dt.datetime
    type: str
    subject: str | None
    client_id: str | None
    #: The canonical JSON text exactly as stored.
    data: str
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredEvent:
        return cls(*row)

    def body(self, *, seq: int | None = None) -> dict[str, Any] | None:
        """The hashed body of this event (at another position if ``seq`` is given).

        ``None`` when the stored ``data`` is not the canonical JSON of an object: the writer only ever stores that
        form, so anything else means the column was edited, even if the edit kept its meaning.
        """
        try:
            payload = json.loads(self.data)
        except ValueError:
            return None
        if not isinstance(payload, dict) or canonical_json(payload) != self.data:
            return None
        return event_body(
            chain=self.chain, seq=self.seq if seq is None else seq, occurred_at=self.occurred_at, type=self.type,
            subject=self.subject, client_id=self.client_id, data=payload,
        )

    def matches(self, *, seq: int | None = None, prev_hash: str | None = None) -> bool:
        """Whether the stored hash is the hash of this event's content (optionally at another seq or link)."""
        body = self.body(seq=seq)
        if body is None:
            return False
        return event_hash(self.prev_hash if prev_hash is None else prev_hash, body) == self.hash

    def written_seq(self, candidates: Iterable[int]) -> int | None:
        """The first candidate position at which this event's content matches its hash, if any.

        Used only to diagnose a damaged chain: an event whose hash matches at another seq was moved there intact
        (renumbered), which tells reordering and renumbering apart from an edit. The hash is resumed from a copy of
        the state after the constant prefix, so a million candidates cost well under a second.
        """
        body = self.body(seq=0)
        if body is None:
            return None
        head, marker, tail = canonical_json(body).rpartition(_SEQ_MARKER)
        assert marker, "the canonical body always holds a top-level seq"
        prefix = hashlib.sha256(f'{self.prev_hash}\n{head}"seq":'.encode())
        suffix = f",{tail}".encode()
        for seq in candidates:
            digest = prefix.copy()
            digest.update(str(seq).encode())
            digest.update(suffix)
            if digest.hexdigest() == self.hash:
                return seq
        return None
