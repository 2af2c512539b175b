"""Sending the outbox over SMTP, outside any request.

A sender claims a due message with a conditional UPDATE (status pending, no live lease), so several ``portal
deliver`` processes never send the same message twice in normal operation; a crashed sender's lease expires and
another takes the message over (:data:`LEASE`, above the whole SMTP exchange's ``PORTAL_SMTP_TIMEOUT``). Failures
are retried with a doubling delay capped at :data:`RETRY_MAX`, up to ``PORTAL_DELIVERY_MAX_ATTEMPTS``; the first
retry that goes through brings forward the other messages waiting on a failure, so that a relay back from an outage
gets them at once, oldest first. Only the exception's class is recorded (a server's reply may echo addresses).
``portal deliver --loop`` runs :func:`run_forever`, which never exits on an error (:mod:`infra.worker`).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import or_, select, update

from infra import metrics
from infra.smtp import bounded_smtp
from infra.worker import retry_while_unavailable, run_until_stopped
from relying_party.db import Database
from relying_party.models import OutboxMessage, utcnow

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=30)
RETRY_MAX = dt.timedelta(seconds=60)


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
        with bounded_smtp(self.host, self.port, timeout=self.timeout) as smtp:
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
        _record(database, message, values)
        outcome = "sent" if "sent_at" in values else ("failed" if values["status"] == "failed" else "retried")
        metrics.DELIVERIES.labels("portal", "email", outcome).inc()
        if "sent_at" in values and message.attempts > 1:
            _bring_forward(database)
    return report


def _record(database: Database, message: OutboxMessage, values: dict[str, Any]) -> None:
    """Write the outcome; a database outage is waited out within the lease (a message the relay took, whose outcome
    were lost, would be sent again)."""

    def write() -> None:
        with database.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))

    retry_while_unavailable(write, until=time.monotonic() + LEASE.total_seconds() - 5, what="outbox outcome")


def _bring_forward(database: Database) -> None:
    """The relay takes messages again: every message waiting on a failure is due at once, in this very round, in
    the order they were queued (their due time becomes their creation time)."""
    with database.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at > utcnow(),
                OutboxMessage.lease_until.is_(None),
                OutboxMessage.last_error.is_not(None),
            )
            .values(next_attempt_at=OutboxMessage.created_at)
        )


def run_forever(
    database: Database, config: Mapping[str, Any], interval: float, *, stop: threading.Event | None = None
) -> None:
    """Send what is due every ``interval`` seconds until SIGTERM or SIGINT (or ``stop``), surviving every error."""

    def round_(_stop: threading.Event) -> int:
        report = deliver_due(database, config)
        if report.sent or report.retried or report.failed:
            logger.info("outbox: %s sent, %s to retry, %s abandoned", report.sent, report.retried, report.failed)
        return int(report.sent + report.retried + report.failed)

    run_until_stopped(round_, name="portal mail worker", every=interval, stop=stop, job="portal_mail")
