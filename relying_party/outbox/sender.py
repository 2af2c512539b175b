"""Sending the outbox over SMTP, outside any request.

A sender claims a due message with a conditional UPDATE (status pending, no live lease), so several ``portal
deliver`` processes never send the same message twice in normal operation; a crashed sender's lease expires and
another takes the message over. Failures are retried with a doubling delay up to ``PORTAL_DELIVERY_MAX_ATTEMPTS``;
only the exception's class is recorded (a server's reply may echo addresses).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import or_, select, update

from relying_party.db import Database
from relying_party.models import OutboxMessage, utcnow

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=120)
RETRY_MAX = dt.timedelta(hours=1)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class SmtpSender:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = str(config["SMTP_HOST"])
        self.port = int(config["SMTP_PORT"])
        self.username = config.get("SMTP_USERNAME")
        self.password = config.get("SMTP_PASSWORD")
        self.starttls = bool(config["SMTP_STARTTLS"])
        self.timeout = int(config["SMTP_TIMEOUT"])
        self.sender = str(config["MAIL_FROM"])

    def send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="elections.portail")
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(str(self.username), str(self.password or ""))
            smtp.send_message(message)


def _due(now: dt.datetime) -> Any:
    return (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= now)
        & or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    )


def _claim(database: Database, now: dt.datetime) -> OutboxMessage | None:
    with database.transaction() as session:
        candidates = (
            session.execute(
                select(OutboxMessage.id)
                .where(_due(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(5)
            )
            .scalars()
            .all()
        )
        for message_id in candidates:
            claimed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, _due(now))
                .values(lease_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                return session.get(OutboxMessage, message_id)
    return None


def deliver_due(database: Database, config: Mapping[str, Any], *, limit: int = 1000) -> DeliveryReport:
    """Send every message due now (at most ``limit``)."""
    sender = SmtpSender(config)
    max_attempts = int(config["DELIVERY_MAX_ATTEMPTS"])
    base = dt.timedelta(seconds=int(config["DELIVERY_RETRY_BASE"]))
    report = DeliveryReport()
    started = utcnow()
    for _ in range(limit):
        message = _claim(database, started)
        if message is None:
            break
        try:
            sender.send(message.recipient, message.subject, message.body)
        except (OSError, smtplib.SMTPException) as exc:
            error = type(exc).__name__
            give_up = message.attempts >= max_attempts
            delay = min(base * (2 ** (message.attempts - 1)), RETRY_MAX)
            values: dict[str, Any] = {"last_error": error, "lease_until": None}
            values.update(status="failed" if give_up else "pending", next_attempt_at=utcnow() + delay)
            logger.warning("outbox message %s not sent (%s), attempt %s", message.id, error, message.attempts)
            if give_up:
                report.failed += 1
            else:
                report.retried += 1
        else:
            values = {"status": "sent", "sent_at": utcnow(), "lease_until": None, "last_error": None}
            report.sent += 1
        with database.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))
    return report
