"""The portal's audit log: append-only events in several independent hash chains, in the IdP's exact format.

Same columns and meaning as the IdP's ``audit_event`` (see :mod:`hashchain`): ``chain`` and ``seq`` place the event,
``prev_hash`` links it to the previous event of its chain and ``hash`` covers its content. ``subject`` is a keyed
pseudonym of the voter (:mod:`relying_party.audit.pseudonym`), never an identifier; ``data`` never holds a choice or
a receipt. The unique ``(chain, seq)`` pair is what serialises writers of one chain.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relying_party.models.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "portal_audit_event"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_portal_audit_event_occurred_at", "occurred_at"),
        Index("ix_portal_audit_event_type", "type"),
    )

    #: Storage handle only: not hashed, not protected.
    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(60))
    #: Keyed pseudonym of the voter (64 hexadecimal digits), or None for operators' actions.
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    client_id: Mapped[str | None] = mapped_column(String(100))
    #: Canonical JSON of the event's details (no secret, no personal datum, nothing of a ballot's content).
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
