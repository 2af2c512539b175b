"""The portal's durable outbox: e-mails to the support team, sent by ``portal deliver`` outside any request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from relying_party.models.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "portal_outbox"
    __table_args__ = (Index("ix_portal_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: "pending", "sent" or "failed" (gave up after PORTAL_DELIVERY_MAX_ATTEMPTS).
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A sender owns the message until then (another may take it over after a crash).
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The class of the last error only (never the server's text, which may echo addresses).
    last_error: Mapped[str | None] = mapped_column(String(200))
