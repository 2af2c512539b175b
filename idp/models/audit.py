"""The audit log: append-only events, linked in several independent hash chains.

Each event belongs to one chain and carries its position ``seq`` in it, the hash of the previous event of that
chain and its own hash over a canonical serialisation. Several chains let concurrent sign-ins append without one
global lock; the unique ``(chain, seq)`` pair is what serialises writers of the same chain.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_type", "type"),
        # The operators' console counts a few types over a recent window (idp.operations, migration 0008).
        Index("ix_audit_event_type_occurred_at", "type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(60))
    #: Pseudonymous subject (the voter's ``subject``, or a keyed hash for an unknown identifier); never an e-mail.
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    client_id: Mapped[str | None] = mapped_column(String(100))
    #: Canonical JSON of the event's details (no secret, no personal datum).
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditSeal(Base):
    """A signed checkpoint of the log's head (``idp audit seal``), kept so that its counter only grows.

    The copy that matters is the one the auditors keep outside the system: this row only gives the next counter and
    the previous checkpoint's digest, and lets the auditors' console check the log against the seals it knows.
    """

    __tablename__ = "audit_seal"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 1, 2, 3…: the number printed on the checkpoint.
    counter: Mapped[int] = mapped_column(Integer, unique=True)
    sealed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: Identifier of the signing key (SHA-256 of its raw public key, hexadecimal).
    key_id: Mapped[str] = mapped_column(String(64))
    #: The signed checkpoint, exactly as handed to the auditors (JSON).
    document: Mapped[str] = mapped_column(Text)
