"""Queue a message in the caller's transaction: it is sent if and only if what it reports was stored."""

from __future__ import annotations

from sqlalchemy.orm import Session

from relying_party.models import OutboxMessage


def enqueue(session: Session, *, recipient: str, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(recipient=recipient, subject=subject[:300], body=body, status="pending", attempts=0)
    session.add(message)
    return message
