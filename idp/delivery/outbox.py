"""Queueing a message: one row in the outbox, in the caller's transaction, with its audit event."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from idp.audit import record
from idp.delivery.payload import Message, fernet_for, seal
from idp.models import OutboxMessage

CHANNELS = frozenset({"email", "sms"})


def enqueue(session: Session, message: Message, *, purpose: str, subject: str | None = None) -> OutboxMessage:
    """Write ``message`` to the outbox; the worker sends it after the transaction commits.

    ``subject`` is the pseudonymous audit reference of the voter concerned (never the recipient address).
    """
    if message.channel not in CHANNELS:
        raise ValueError(f"unknown channel {message.channel!r}")
    row = OutboxMessage(
        channel=message.channel,
        purpose=purpose,
        payload=seal(fernet_for(current_app.config["SECRET_KEY"]), message),
    )
    session.add(row)
    session.flush()
    record(session, "message.queued", subject=subject, message_id=row.id, channel=message.channel, purpose=purpose)
    return row
