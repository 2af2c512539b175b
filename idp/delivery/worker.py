"""The delivery worker: takes due messages from the outbox, sends them, records the outcome.

Any number of workers may run side by side, with no global lock. A worker *claims* one message at a time with
a conditional UPDATE that sets a lease (``lease_until``) only where the message is still pending, due and not
leased by a live worker: the UPDATE that changes one row wins, the others change none and move on. PostgreSQL
picks candidates with ``FOR UPDATE SKIP LOCKED`` so concurrent workers do not even compete for the same row;
SQLite serialises the claiming transactions (``BEGIN IMMEDIATE``).

The message is sent after the claim has committed, outside any transaction, so a slow relay holds no lock. A
worker killed mid-send loses nothing: its lease expires and another worker sends the message again (delivery is
at least once). The outcome is written in one transaction with its audit event, and only if the worker still
holds its lease. Once a message is sent or abandoned its payload is erased: an address or a one-time link does
not outlive delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from cryptography.fernet import InvalidToken
from flask import Flask
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp.audit import record
from idp.db import get_db
from idp.delivery.composers import composer_for
from idp.delivery.payload import Message, fernet_for, seal, unseal
from idp.delivery.senders import BACKEND_SETTING, DeliveryError, Sender, sender_for
from idp.models import OutboxMessage, utcnow

logger = logging.getLogger(__name__)

#: Rows looked at per claim; the first one whose conditional UPDATE succeeds is taken.
CANDIDATES = 5


@dataclass(frozen=True)
class Claim:
    """A message this worker holds until ``lease_until`` (which also serves as the proof of ownership)."""

    id: int
    channel: str
    purpose: str
    payload: bytes | None
    attempts: int  # including the attempt being made
    lease_until: dt.datetime


def _claimable(due_before: dt.datetime, now: dt.datetime) -> ColumnElement[bool]:
    return (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.next_attempt_at <= due_before)
        & or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now)
    )


class _LeaseLost(Exception):
    """The lease ran out while composing: roll the composer's writes back."""


class DeliveryWorker:
    """Sends what is due in the outbox of one application. Not shared between threads: one per thread."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.app = app
        self.database = get_db(app)
        self.fernet = fernet_for(cfg["SECRET_KEY"])
        self.max_attempts = int(cfg["DELIVERY_MAX_ATTEMPTS"])
        self.retry_base = int(cfg["DELIVERY_RETRY_BASE"])
        self.retry_max = int(cfg["DELIVERY_RETRY_MAX"])
        self.lease = dt.timedelta(seconds=int(cfg["DELIVERY_LEASE"]))
        # Built now: a configuration that cannot work stops the worker at start, not message by message.
        self.senders: dict[str, Sender] = {channel: sender_for(app, channel) for channel in BACKEND_SETTING}

    def drain(self, stop: threading.Event | None = None) -> int:
        """Handle every message due when called (each at most once), then return how many were handled.

        Messages queued or rescheduled meanwhile wait for the next call, which bounds the work of one call.
        """
        started = utcnow()
        handled = 0
        while stop is None or not stop.is_set():
            claim = self.claim(started)
            if claim is None:
                break
            self.deliver(claim)
            handled += 1
        return handled

    def claim(self, due_before: dt.datetime) -> Claim | None:
        """Lease one message due before ``due_before``, or return None if there is none left to take."""
        now = utcnow()
        lease_until = now + self.lease
        with self.database.transaction() as session:
            candidates = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.channel,
                    OutboxMessage.purpose,
                    OutboxMessage.payload,
                    OutboxMessage.attempts,
                )
                .where(_claimable(due_before, now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(CANDIDATES)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it (BEGIN IMMEDIATE locks)
            ).all()
            for row in candidates:
                taken = session.connection().execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, _claimable(due_before, now))
                    .values(lease_until=lease_until, attempts=OutboxMessage.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:
                    return Claim(row.id, row.channel, row.purpose, row.payload, row.attempts + 1, lease_until)
        return None

    def deliver(self, claim: Claim) -> None:
        """Send one claimed message (no transaction open meanwhile) and record the outcome."""
        if claim.attempts > self.max_attempts:
            # The previous worker stopped during the last allowed attempt.
            self._fail(claim, "attempts exhausted")
            return
        message = self._open(claim)
        if message is None:
            return
        composed = self._compose(claim, message)
        if composed is None:
            return
        claim, message = composed
        try:
            self.senders[claim.channel].send(message)
        except DeliveryError as exc:
            if exc.permanent or claim.attempts >= self.max_attempts:
                self._fail(claim, exc.reason)
            else:
                self._retry(claim, exc.reason)
            return
        except Exception as exc:
            # A bug in a sender must not lose the message or stop the worker. Only the type is logged: an
            # exception's text may quote the recipient.
            logger.error("message %s: unexpected %s from the %s sender", claim.id, type(exc).__name__, claim.channel)
            if claim.attempts >= self.max_attempts:
                self._fail(claim, f"unexpected {type(exc).__name__}")
            else:
                self._retry(claim, f"unexpected {type(exc).__name__}")
            return
        self._succeed(claim)

    def _open(self, claim: Claim) -> Message | None:
        if claim.channel not in self.senders:
            self._fail(claim, "unknown channel")
            return None
        if claim.payload is None:
            self._fail(claim, "no payload")
            return None
        try:
            return unseal(self.fernet, claim.payload)
        except (InvalidToken, ValueError, TypeError):
            # Sealed under another IDP_SECRET_KEY (or damaged): no later attempt can read it either.
            self._fail(claim, "payload cannot be decrypted with the current secret key")
            return None

    def _compose(self, claim: Claim, message: Message) -> tuple[Claim, Message] | None:
        """Turn a queued request into the message to send (see :mod:`idp.delivery.composers`), once.

        Returns the claim and message to send, or None when there is nothing to send (discarded) or the lease was
        lost meanwhile (nothing the composer wrote is kept).
        """
        composer = composer_for(self.app, claim.purpose)
        if composer is None:
            return claim, message
        try:
            with self.database.transaction() as session:
                composed = composer(session, message)
                if composed is None:
                    values: dict[str, Any] = {"status": "discarded", "payload": None, "lease_until": None}
                    if not self._update_owned(session, claim, values):
                        raise _LeaseLost
                    record(
                        session, "message.discarded", message_id=claim.id, channel=claim.channel, purpose=claim.purpose
                    )
                    return None
                sealed = seal(self.fernet, composed.message)
                if not self._update_owned(session, claim, {"payload": sealed, "purpose": composed.purpose}):
                    raise _LeaseLost
        except _LeaseLost:
            logger.warning("message %s: lease expired while composing; another worker has taken it over", claim.id)
            return None
        return replace(claim, purpose=composed.purpose, payload=sealed), composed.message

    def retry_delay(self, attempts: int) -> int:
        """Exponential backoff: base, 2 x base, 4 x base... capped at ``DELIVERY_RETRY_MAX`` seconds."""
        return int(min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max))

    def _succeed(self, claim: Claim) -> None:
        if self._record(
            claim,
            "message.sent",
            {"status": "sent", "sent_at": utcnow(), "payload": None, "lease_until": None, "last_error": None},
        ):
            logger.info("message %s sent (%s, %s, attempt %s)", claim.id, claim.channel, claim.purpose, claim.attempts)

    def _retry(self, claim: Claim, reason: str) -> None:
        delay = self.retry_delay(claim.attempts)
        values = {"next_attempt_at": utcnow() + dt.timedelta(seconds=delay), "lease_until": None, "last_error": reason}
        if self._record(claim, "message.retry", values, reason=reason, retry_in=delay):
            logger.warning(
                "message %s not sent (%s, attempt %s): %s; retry in %s s",
                claim.id,
                claim.channel,
                claim.attempts,
                reason,
                delay,
            )

    def _fail(self, claim: Claim, reason: str) -> None:
        values = {"status": "failed", "payload": None, "lease_until": None, "last_error": reason}
        if self._record(claim, "message.failed", values, reason=reason):
            logger.error("message %s abandoned (%s, attempt %s): %s", claim.id, claim.channel, claim.attempts, reason)

    def _record(self, claim: Claim, event: str, values: dict[str, Any], **data: Any) -> bool:
        """Write the outcome and its audit event together, if this worker still holds the message."""
        with self.database.transaction() as session:
            if not self._update_owned(session, claim, values):
                logger.warning(
                    "message %s: lease expired before the outcome was recorded; another worker has taken it over",
                    claim.id,
                )
                return False
            record(
                session,
                event,
                message_id=claim.id,
                channel=claim.channel,
                purpose=claim.purpose,
                attempts=claim.attempts,
                **data,
            )
            return True

    @staticmethod
    def _update_owned(session: Session, claim: Claim, values: dict[str, Any]) -> bool:
        result = session.connection().execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == claim.id,
                OutboxMessage.status == "pending",
                OutboxMessage.lease_until == claim.lease_until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def run_once(app: Flask, *, stop: threading.Event | None = None) -> int:
    """Send what is due now and return the number of messages handled (sent, rescheduled or abandoned)."""
    with app.app_context():
        return DeliveryWorker(app).drain(stop)


def run_forever(app: Flask, interval: float, *, stop: threading.Event | None = None) -> None:
    """Drain the outbox every ``interval`` seconds until SIGTERM or SIGINT (or ``stop`` is set).

    A signal lets the message being sent finish and its outcome be recorded, then the loop ends.
    """
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    try:
        with app.app_context():
            worker = DeliveryWorker(app)
            logger.info("delivery worker started (every %s s)", interval)
            while not stop.is_set():
                try:
                    worker.drain(stop)
                except SQLAlchemyError as exc:
                    # Database restarting or unreachable: keep the worker alive and try again next round.
                    logger.error("delivery round interrupted by %s; next round in %s s", type(exc).__name__, interval)
                stop.wait(interval)
            logger.info("delivery worker stopped")
    finally:
        restore()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``stop``; return what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may set handlers (tests run the loop in a thread)

    def _handler(signum: int, frame: FrameType | None) -> None:
        logger.info("%s received: stopping after the current message", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return _restore
