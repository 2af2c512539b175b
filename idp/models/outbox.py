"""The durable delivery outbox, and the development mailbox that the demo shows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    """A message to send, written in the transaction of the event that causes it.

    ``payload`` (recipient, subject, body) is encrypted at rest and erased once the message is delivered or
    abandoned, so a personal address or a one-time link does not outlive its delivery.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # "email" | "sms"
    #: What the message is for (audit vocabulary), e.g. "activation".
    purpose: Mapped[str] = mapped_column(String(40))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary())
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed | discarded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class DevMessage(Base):
    """A message "delivered" by the development outbox backend; shown on a page in development only."""

    __tablename__ = "dev_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
