"""The delivery worker: takes due messages from the outbox, sends them, records the outcome.

Any number of workers may run side by side, with no global lock. A worker *claims* one message at a time with
a conditional UPDATE that sets a lease (``lease_until``) only where the message is still pending, due and not
leased by a live worker: the UPDATE that changes one row wins, the others change none and move on. PostgreSQL
picks candidates with ``FOR UPDATE SKIP LOCKED`` so concurrent workers do not even compete for the same row;
SQLite serialises the claiming transactions (``BEGIN IMMEDIATE``).

The message is sent after the claim has committed, outside any transaction, so a slow relay holds no lock. A
worker killed mid-send loses nothing: its lease expires and another worker sends the message again (delivery is
at least once). The lease is sized to the send (``IDP_DELIVERY_LEASE``, 30 s, above the senders' timeouts), so such
a message waits half a minute, not minutes. The outcome is written in one transaction with its audit event, and
only if the worker still holds its lease; a database outage at that moment is waited out within the lease, so that
a message already handed over is not sent again. Once a message is sent or abandoned its payload is erased: an
address or a one-time link does not outlive delivery.

Duplicates are possible only when an attempt's outcome is unknown: a worker killed (or stalled past its lease)
after handing the message over, or a relay or gateway that took the message but did not answer in time. The next
successful attempt of such a message says so in its ``message.sent`` event (``possible_duplicate``), so that they
are counted; each such event stands for at most one extra copy.

When the relay or the gateway is down, messages wait with a backoff capped at ``IDP_DELIVERY_RETRY_MAX`` (60 s).
The first retry that goes through brings forward every message of that channel waiting on a temporary failure, so
they leave at once, oldest first. A message not delivered ``IDP_DELIVERY_DEADLINE`` seconds after it was queued is
abandoned (``message.failed``): its link would have expired anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from cryptography.fernet import InvalidToken
from flask import Flask
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from idp.audit import record
from idp.db import get_db
from idp.delivery.backends import BACKEND_SETTING, sender_for
from idp.delivery.composers import composer_for
from idp.delivery.payload import Message, fernet_for, seal, unseal
from idp.delivery.senders import UNCERTAIN, DeliveryError, Sender
from idp.models import OutboxMessage, utcnow
from infra.worker import drain, retry_while_unavailable, run_until_stopped

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
    created_at: dt.datetime
    #: A previous attempt may have handed the message over: taken over after an expired lease, or after an answer
    #: that did not come (see :data:`idp.delivery.senders.UNCERTAIN`).
    possibly_sent: bool = False


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
        self.deadline = dt.timedelta(seconds=int(cfg["DELIVERY_DEADLINE"]))
        self.lease = dt.timedelta(seconds=int(cfg["DELIVERY_LEASE"]))
        #: Channels on which this worker met a temporary failure since its last success there.
        self._failing: set[str] = set()
        # Built now: a configuration that cannot work stops the worker at start, not message by message.
        self.senders: dict[str, Sender] = {channel: sender_for(app, channel) for channel in BACKEND_SETTING}

    def drain(self, stop: threading.Event | None = None) -> int:
        """Handle every message due when called (each at most once), then return how many were handled."""
        return drain(self.claim, self.deliver, stop)

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
                    OutboxMessage.lease_until,
                    OutboxMessage.last_error,
                    OutboxMessage.created_at,
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
                    # A lease still set is an expired one: its worker died (or stalled) without an outcome.
                    possibly_sent = row.lease_until is not None or (row.last_error or "").endswith(UNCERTAIN)
                    return Claim(
                        row.id,
                        row.channel,
                        row.purpose,
                        row.payload,
                        row.attempts + 1,
                        lease_until,
                        row.created_at,
                        possibly_sent,
                    )
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
            if exc.permanent or claim.attempts >= self.max_attempts or self._past_deadline(claim):
                self._fail(claim, exc.reason)
            else:
                self._failing.add(claim.channel)
                self._retry(claim, exc.reason)
            return
        except Exception as exc:
            # A bug in a sender must not lose the message or stop the worker. Only the type is logged: an
            # exception's text may quote the recipient.
            logger.error("message %s: unexpected %s from the %s sender", claim.id, type(exc).__name__, claim.channel)
            if claim.attempts >= self.max_attempts or self._past_deadline(claim):
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

    def _past_deadline(self, claim: Claim) -> bool:
        return utcnow() >= claim.created_at + self.deadline

    def retry_delay(self, attempts: int) -> int:
        """Exponential backoff: base, 2 x base, 4 x base... capped at ``DELIVERY_RETRY_MAX`` seconds."""
        return int(min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max))

    def _succeed(self, claim: Claim) -> None:
        extra = {"possible_duplicate": True} if claim.possibly_sent else {}
        if self._record(
            claim,
            "message.sent",
            {"status": "sent", "sent_at": utcnow(), "payload": None, "lease_until": None, "last_error": None},
            **extra,
        ):
            logger.info("message %s sent (%s, %s, attempt %s)", claim.id, claim.channel, claim.purpose, claim.attempts)
        if claim.attempts > 1 or claim.channel in self._failing:
            # The relay or gateway takes messages again: what waits on a temporary failure goes now.
            self._failing.discard(claim.channel)
            self.bring_forward(claim.channel)

    def bring_forward(self, channel: str) -> int:
        """Make every message of ``channel`` waiting on a temporary failure due at once, in this very round, oldest
        first (their due time becomes their creation time); return how many. Those already due move too, so that
        none keeps a later retry time than a younger one brought forward. Messages never tried, or leased, are left
        alone."""

        def run() -> int:
            with self.database.transaction() as session:
                moved = session.connection().execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.channel == channel,
                        OutboxMessage.next_attempt_at > OutboxMessage.created_at,
                        OutboxMessage.lease_until.is_(None),
                        OutboxMessage.last_error.is_not(None),
                    )
                    .values(next_attempt_at=OutboxMessage.created_at)
                    .execution_options(synchronize_session=False)
                )
                return int(moved.rowcount)

        moved = retry_while_unavailable(run, until=time.monotonic() + 5, what="bringing messages forward")
        if moved:
            logger.info("%s %s message(s) brought forward: the channel takes messages again", moved, channel)
        return moved

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
        """Write the outcome and its audit event together, if this worker still holds the message.

        A database outage is waited out until the lease ends: a message handed over whose outcome is lost would be
        sent again by the next worker.
        """

        def write() -> bool:
            with self.database.transaction() as session:
                if not self._update_owned(session, claim, values):
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

        left = (claim.lease_until - utcnow()).total_seconds()
        if not retry_while_unavailable(write, until=time.monotonic() + left, what=f"message {claim.id}'s outcome"):
            logger.warning(
                "message %s: lease expired before the outcome was recorded; another worker has taken it over",
                claim.id,
            )
            return False
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
    """Drain the outbox every ``interval`` seconds until SIGTERM or SIGINT (or ``stop`` is set); a round that fails
    (the database restarting, say) is retried after a bounded backoff (:mod:`infra.worker`).

    A signal lets the message being sent finish and its outcome be recorded, then the loop ends.
    """
    with app.app_context():
        worker = DeliveryWorker(app)
        run_until_stopped(worker.drain, name="delivery worker", every=interval, stop=stop, job="idp_delivery")
