"""Back-channel logout delivery: POSTs signed logout tokens to clients, outside any web request.

A logout queues durable rows (:class:`OidcLogoutNotice`) in its own transaction, so the voter's request never
waits on a client and no notice is lost if a process dies. Workers (``idp oidc deliver-logouts``) claim a row
with a lease through a conditional UPDATE, as the delivery outbox does, sign the logout token at send time (the
current key, a fresh ``iat``), and record the outcome, retrying with a growing delay capped at :data:`RETRY_MAX`:
a client that was down receives its notices within a minute of its return, for ``IDP_BACKCHANNEL_MAX_ATTEMPTS``
attempts (60 by default, about an hour). A database outage while the outcome is written is waited out within the
lease, so that a notice already accepted by the client is not sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from flask import Flask
from sqlalchemy import ColumnElement, or_, select, update

from idp.audit import record
from idp.db import get_db
from idp.metrics import APP as METRICS_APP
from idp.models import utcnow
from idp.oidc import jwt_signing
from idp.oidc.models import OidcClient, OidcLogoutNotice
from idp.oidc.provider import get_provider
from infra import metrics
from infra.worker import drain, retry_while_unavailable

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
RETRY_BASE = 5
RETRY_MAX = 60


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int
    lease_until: dt.datetime


def _claimable(due_before: dt.datetime, now: dt.datetime) -> ColumnElement[bool]:
    return (
        (OidcLogoutNotice.status == "pending")
        & (OidcLogoutNotice.next_attempt_at <= due_before)
        & or_(OidcLogoutNotice.lease_until.is_(None), OidcLogoutNotice.lease_until < now)
    )


class LogoutNotifier:
    """Sends the due notices of one application. One per thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.database = get_db(app)
        self.timeout = int(app.config["BACKCHANNEL_TIMEOUT"])
        self.max_attempts = int(app.config["BACKCHANNEL_MAX_ATTEMPTS"])
        self.http = requests.Session()

    def drain(self, stop: threading.Event | None = None) -> int:
        """Handle every notice due when called, each at most once; return how many were handled."""
        return drain(self.claim, self.deliver, stop)

    def claim(self, due_before: dt.datetime) -> Claim | None:
        now = utcnow()
        lease_until = now + LEASE
        with self.database.transaction() as session:
            candidates = session.execute(
                select(OidcLogoutNotice.id, OidcLogoutNotice.attempts)
                .where(_claimable(due_before, now))
                .order_by(OidcLogoutNotice.next_attempt_at, OidcLogoutNotice.id)
                .limit(5)
                .with_for_update(skip_locked=True)
            ).all()
            for row in candidates:
                taken = session.execute(
                    update(OidcLogoutNotice)
                    .where(OidcLogoutNotice.id == row.id, _claimable(due_before, now))
                    .values(lease_until=lease_until, attempts=OidcLogoutNotice.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
                if getattr(taken, "rowcount", 0) == 1:
                    return Claim(row.id, row.attempts + 1, lease_until)
        return None

    def deliver(self, claim: Claim) -> None:
        with self.app.app_context():
            with self.database.transaction() as session:
                notice = session.get(OidcLogoutNotice, claim.id)
                assert notice is not None
                client = session.execute(
                    select(OidcClient).where(OidcClient.client_id == notice.client_id)
                ).scalar_one_or_none()
                if client is None or client.is_disabled or not client.backchannel_logout_uri:
                    uri, token = None, None
                else:
                    uri = client.backchannel_logout_uri
                    token = jwt_signing.logout_token(
                        get_provider(), session, client, sub=notice.subject, sid=notice.sid
                    )
            if uri is None or token is None:
                self._finish(claim, "failed", "client disabled or without back-channel URI")
                return
            error = self._post(uri, token)
            if error is None:
                self._finish(claim, "sent", None)
            elif claim.attempts >= self.max_attempts:
                self._finish(claim, "failed", error)
            else:
                self._retry(claim, error)

    def _post(self, uri: str, token: str) -> str | None:
        try:
            answer = self.http.post(uri, data={"logout_token": token}, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}"
        # Back-Channel Logout 2.8: 200 on success (some frameworks answer 204).
        if answer.status_code in (200, 204):
            return None
        return f"HTTP {answer.status_code}"

    def _owned(self, claim: Claim) -> ColumnElement[bool]:
        return (OidcLogoutNotice.id == claim.id) & (OidcLogoutNotice.lease_until == claim.lease_until)

    def _until(self, claim: Claim) -> float:
        """The monotonic time at which ``claim``'s lease ends."""
        return time.monotonic() + (claim.lease_until - utcnow()).total_seconds()

    def _finish(self, claim: Claim, status: str, error: str | None) -> None:
        retry_while_unavailable(
            lambda: self._write_outcome(claim, status, error), until=self._until(claim), what="logout notice outcome"
        )
        if status == "failed":
            logger.warning("back-channel logout notice %s abandoned: %s", claim.id, error)

    def _write_outcome(self, claim: Claim, status: str, error: str | None) -> None:
        with self.app.app_context(), self.database.transaction() as session:
            done = session.execute(
                update(OidcLogoutNotice)
                .where(self._owned(claim))
                .values(
                    status=status, lease_until=None, last_error=error, sent_at=utcnow() if status == "sent" else None
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                return
            notice = session.get(OidcLogoutNotice, claim.id)
            assert notice is not None
            event = "logout.backchannel_sent" if status == "sent" else "logout.backchannel_failed"
            record(session, event, client_id=notice.client_id, sid=notice.sid, attempts=claim.attempts, error=error)

    def _retry(self, claim: Claim, error: str) -> None:
        delay = min(RETRY_MAX, RETRY_BASE * 2 ** (claim.attempts - 1))
        logger.info("back-channel logout notice %s: %s, retrying in %s s", claim.id, error, delay)

        def write() -> None:
            with self.database.transaction() as session:
                session.execute(
                    update(OidcLogoutNotice)
                    .where(self._owned(claim))
                    .values(lease_until=None, last_error=error, next_attempt_at=utcnow() + dt.timedelta(seconds=delay))
                    .execution_options(synchronize_session=False)
                )

        retry_while_unavailable(write, until=self._until(claim), what="logout notice retry")


def backchannel_collector(app: Flask) -> metrics.ScrapeCollector:
    """Back-channel logout notices pending and the oldest one's age (``idp oidc deliver-logouts`` serves it)."""
    database = get_db(app)

    def compute() -> Iterable[Metric]:
        with database.reader() as session:
            return metrics.queue_families(
                session,
                table=OidcLogoutNotice.__table__,
                group=None,
                group_label="status",
                depth_name="backchannel_pending",
                depth_help="Back-channel logout notices not yet accepted by their client nor abandoned.",
                age_name="backchannel_oldest_age_seconds",
                age_help="Seconds the oldest pending back-channel logout notice has waited (0: none).",
                app=METRICS_APP,
                groups=("pending",),
            )

    return metrics.ScrapeCollector("idp_backchannel", compute)
