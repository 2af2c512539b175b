"""The IdP's domain metrics, counted from its audit events once their transaction commits.

Every step that matters is already an event of the audit log, written in the transaction of the change it records
(:func:`idp.audit.record`); the same call counts it here when that transaction commits
(:func:`infra.metrics.after_commit`), so a metric and the audit log cannot disagree, and a rolled-back step is
counted by neither. Plugins count their own events through :func:`observe_events` (the plugin API re-exports it).

Label values come from the event's data through :func:`infra.metrics.bounded` with a fixed list each: never a
subject, an identifier, an address. ``client_id`` is an OpenID Connect client registered by an operator (or through
the initial access token), a bounded set too.

Figures computed at scrape (:func:`collectors`): the outbox's depth and the age of its oldest message by channel,
the back-channel logout notices pending and the oldest one's age, the database and store reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy.orm import Session

from idp.db import get_db
from idp.models import OutboxMessage
from idp.store import get_store
from infra import metrics
from infra.metrics import PREFIX, bounded

if TYPE_CHECKING:
    from flask import Flask
    from prometheus_client.metrics_core import Metric

APP = "idp"
CHANNELS = ("email", "sms")

SIGNINS_STARTED = Counter(
    PREFIX + "signins_started",
    "Sign-ins started: identifier and CAPTCHA accepted (password), or the browser sent to FranceConnect "
    "(franceconnect).",
    ["method"],
)
SIGNINS_SUCCEEDED = Counter(
    PREFIX + "signins_succeeded", "Sign-ins that opened a session, by method (password, franceconnect).", ["method"]
)
SIGNINS_FAILED = Counter(
    PREFIX + "signins_failed",
    "Sign-in steps refused, by reason: captcha, format (identifier), password (wrong password, unknown identifier or "
    "account not activated: one uniform answer), locked, franceconnect (the provider failed), not_matched.",
    ["reason"],
)
LOCKOUTS = Counter(
    PREFIX + "lockouts",
    "Locks set after repeated failures, by kind (password, vote_code; the réassort's are "
    "elections_reassort_lockouts_total) and scope (identifier, voter, address).",
    ["kind", "scope"],
)
VOTECODE_STEPS = Counter(
    PREFIX + "votecode_steps",
    "Vote-code step attempts, by outcome: verified, failed (wrong code, counted towards the lock), rejected (CAPTCHA "
    "or format, not counted), throttled (locked).",
    ["outcome"],
)
TOKEN_GRANTS = Counter(
    PREFIX + "token_grants",
    "Tokens issued at the token endpoint, by grant type (authorization_code, refresh_token, client_credentials) "
    "and client.",
    ["grant_type", "client_id"],
)
BACKCHANNEL_NOTICES = Counter(
    PREFIX + "backchannel_notices",
    "Back-channel logout notices, by outcome: queued, sent (the client accepted it), failed (abandoned).",
    ["outcome"],
)
DELIVERY_DUPLICATES = Counter(
    PREFIX + "delivery_possible_duplicates",
    "Messages sent after an attempt whose outcome was unknown: each may have reached the voter twice.",
    ["channel"],
)

#: An observer of committed audit events: ``(type, data, client_id)``.
Observer = Callable[[str, Mapping[str, Any], str | None], None]
_observers: dict[str, Observer] = {}


def observe_events(observer: Observer) -> None:
    """Call ``observer`` for every audit event of the IdP once its transaction commits (plugins' counters). An
    observer registered again (a second app in the process) replaces itself: each event is counted once."""
    _observers[f"{observer.__module__}.{observer.__qualname__}"] = observer


def on_recorded(session: Session, type: str, data: Mapping[str, Any], client_id: str | None) -> None:
    """Count the audit event ``type`` when ``session`` commits (called by :func:`idp.audit.record`)."""

    def count() -> None:
        _count(type, data, client_id)
        for observer in list(_observers.values()):
            observer(type, data, client_id)

    metrics.after_commit(session, count)


_PASSWORD, _FRANCECONNECT = "password", "franceconnect"
_DELIVERY_OUTCOMES = {"message.sent": "sent", "message.retry": "retried", "message.failed": "failed"}
_VOTECODE = {
    "votecode.verified": "verified",
    "votecode.failed": "failed",
    "votecode.rejected": "rejected",
    "votecode.throttled": "throttled",
}
_BACKCHANNEL = {
    "logout.backchannel_queued": "queued",
    "logout.backchannel_sent": "sent",
    "logout.backchannel_failed": "failed",
}
_LOCK_KINDS = {"login.locked": "password", "votecode.locked": "vote_code"}
_SCOPES = ("identifier", "voter", "address")
_GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
_LOGIN = "login"  # the federation's purpose of the IdP's own sign-in


def _count(type: str, data: Mapping[str, Any], client_id: str | None) -> None:
    if type == "login.identifier_accepted":
        SIGNINS_STARTED.labels(_PASSWORD).inc()
    elif type == "federation.started" and data.get("purpose") == _LOGIN:
        SIGNINS_STARTED.labels(_FRANCECONNECT).inc()
    elif type == "login.succeeded":
        SIGNINS_SUCCEEDED.labels(_PASSWORD).inc()
    elif type == "federation.signed_in":
        SIGNINS_SUCCEEDED.labels(_FRANCECONNECT).inc()
    elif type == "login.identifier_rejected":
        SIGNINS_FAILED.labels(bounded(data.get("reason"), ("captcha", "format"))).inc()
    elif type == "login.password_failed":
        SIGNINS_FAILED.labels("password").inc()
    elif type == "login.throttled":
        SIGNINS_FAILED.labels("locked").inc()
    elif type == "federation.failed" and data.get("purpose") == _LOGIN:
        SIGNINS_FAILED.labels(_FRANCECONNECT).inc()
    elif type == "federation.not_matched" and data.get("purpose") == _LOGIN:
        SIGNINS_FAILED.labels("not_matched").inc()
    elif type in _LOCK_KINDS:
        scope = data.get("scope") or ("voter" if type == "votecode.locked" else None)
        LOCKOUTS.labels(_LOCK_KINDS[type], bounded(scope, _SCOPES)).inc()
    elif type in _VOTECODE:
        VOTECODE_STEPS.labels(_VOTECODE[type]).inc()
    elif type in ("token.issued", "token.refreshed"):
        default = "authorization_code" if type == "token.issued" else "refresh_token"
        grant = bounded(str(data.get("grant_type") or default), _GRANT_TYPES)
        TOKEN_GRANTS.labels(grant, client_id or metrics.OTHER).inc()
    elif type in _BACKCHANNEL:
        BACKCHANNEL_NOTICES.labels(_BACKCHANNEL[type]).inc()
    elif type in _DELIVERY_OUTCOMES:
        channel = bounded(data.get("channel"), CHANNELS)
        metrics.DELIVERIES.labels(APP, channel, _DELIVERY_OUTCOMES[type]).inc()
        if data.get("possible_duplicate"):
            DELIVERY_DUPLICATES.labels(channel).inc()


# --- computed at scrape ---------------------------------------------------------------------------------------------


def outbox_collector(app: Flask) -> metrics.ScrapeCollector:
    """The outbox's pending messages and the oldest one's age, by channel (``idp deliver`` serves it)."""
    database = get_db(app)

    def compute() -> Iterable[Metric]:
        with database.reader() as session:
            return metrics.outbox_families(
                session, table=OutboxMessage.__table__, group=OutboxMessage.channel, app=APP, groups=CHANNELS
            )

    return metrics.ScrapeCollector("idp_outbox", compute)


def dependency_collector(app: Flask, name: str) -> metrics.ScrapeCollector:
    """Whether the worker ``name``'s database and store answer, checked at each scrape."""

    def store() -> object:
        return get_store(app).get("healthz:probe")

    return metrics.dependency_collector(name, {"database": metrics.database_check(get_db(app).engine), "store": store})


def serve_worker(app: Flask, name: str, port: int | None, *collectors: metrics.ScrapeCollector) -> None:
    """Serve a worker command's metrics (``IDP_METRICS_PORT`` or ``--metrics-port``; 0: none)."""
    metrics.serve_for(app, [*collectors, dependency_collector(app, name)], port=port)
