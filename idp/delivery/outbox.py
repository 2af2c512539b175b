"""Queueing a message: one row in the outbox, in the caller's transaction, with its audit event."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from idp.audit import record
from idp.delivery.payload import Message, seal
from idp.models import OutboxMessage

CHANNELS = frozenset({"email", "sms"})


def enqueue(
    session: Session, message: Message, *, sealer: Fernet, purpose: str, subject: str | None = None
) -> OutboxMessage:
    """Write ``message`` to the outbox, sealed with ``sealer`` (:func:`idp.delivery.outbox_sealer`); the worker
    sends it after the transaction commits.

    ``subject`` is the pseudonymous audit reference of the voter concerned (never the recipient address).
    """
    if message.channel not in CHANNELS:
        raise ValueError(f"unknown channel {message.channel!r}")
    row = OutboxMessage(
        channel=message.channel,
        purpose=purpose,
        payload=seal(sealer, message),
    )
    session.add(row)
    session.flush()
    record(session, "message.queued", subject=subject, message_id=row.id, channel=message.channel, purpose=purpose)
    return row
