"""The IdP's figures for the operators' console: sign-ins and their failures, lockouts, the réassort funnel, the
outbox and deliveries, read from the audit log and the outbox. A published reading interface (like
:mod:`idp.audit.query` for the auditors' console): ``operator_console`` imports this module and :mod:`idp.models`,
nothing that writes.

Every query is bounded: the audit log is read by event type over a recent window through the index
``(type, occurred_at)`` (migration 0008), counted and grouped in the database (:mod:`infra.sqlaggregates`), and
never fetched row by row; the outbox is read by status through its ``(status, next_attempt_at)`` index, where only
the messages waiting are found. The functions return plain JSON-ready dictionaries so that the console can keep
them in its store for a while and every process shows the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from idp.models import AuditEvent, OutboxMessage
from infra.sqlaggregates import json_text, time_bucket

#: Successful sign-ins: a password accepted, or a FranceConnect identity enough on its own.
SIGN_IN_TYPES = ("login.succeeded", "federation.signed_in")

#: Why a sign-in or a vote-code step failed, by event type (and the ``reason`` of the event where it says more).
FAILURE_REASONS: dict[tuple[str, str | None], str] = {
    ("login.password_failed", None): "Mot de passe erroné, identifiant inconnu ou compte non activé",
    ("login.identifier_rejected", "captcha"): "CAPTCHA erroné ou expiré",
    ("login.identifier_rejected", "format"): "Identifiant mal formé",
    ("login.throttled", None): "Connexion refusée pendant un verrouillage",
    ("votecode.failed", None): "Code de vote erroné",
    ("votecode.rejected", None): "Code de vote refusé sans vérification (CAPTCHA, format)",
    ("votecode.throttled", None): "Code de vote refusé pendant un verrouillage",
    ("federation.failed", None): "Échec de l'identification FranceConnect",
}
FAILURE_TYPES = tuple(sorted({event_type for event_type, _ in FAILURE_REASONS}))
#: Failure types whose ``reason`` detail splits them (read from the event's JSON, on these rows only).
_SPLIT_BY_REASON = tuple(sorted({event_type for event_type, reason in FAILURE_REASONS if reason is not None}))

#: Lockouts, by what was locked.
LOCKOUT_TYPES: dict[str, str] = {
    "login.locked": "Connexion (identifiant ou adresse)",
    "votecode.locked": "Code de vote",
    "reassort.locked": "Réassort",
}

#: The réassort funnel, in order (the plugin's events; none while the plugin is not installed).
FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("reassort.requested", "Demandés"),
    ("reassort.link_sent", "Liens envoyés"),
    ("reassort.link_opened", "Liens ouverts"),
    ("reassort.code_generated", "Codes générés"),
)

#: Delivery outcomes, from the delivery workers' events.
DELIVERY_OUTCOMES: dict[str, str] = {
    "message.sent": "Remis à l'opérateur",
    "message.retry": "Échec temporaire (nouvel essai)",
    "message.failed": "Abandonnés",
}

CHANNELS: dict[str, str] = {"email": "Courriel", "sms": "SMS", "franceconnect": "FranceConnect"}


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="seconds")


def _buckets(since: dt.datetime, now: dt.datetime, seconds: int) -> list[int]:
    """Every bucket start (Unix time) from the one holding ``since`` to the one holding ``now``."""
    first = int(since.timestamp()) // seconds * seconds
    last = int(now.timestamp()) // seconds * seconds
    return list(range(first, last + 1, seconds))


def _counts_by_type_and_bucket(
    engine: Engine, types: Iterable[str], since: dt.datetime, seconds: int
) -> dict[tuple[str, int], int]:
    bucket = time_bucket(AuditEvent.occurred_at, seconds)
    query = (
        select(AuditEvent.type, bucket, func.count())
        .where(AuditEvent.type.in_(tuple(types)), AuditEvent.occurred_at >= since)
        .group_by(AuditEvent.type, bucket)
    )
    with engine.connect() as connection:
        return {(row[0], int(row[1])): int(row[2]) for row in connection.execute(query)}


def _counts_by_type_and_field(
    engine: Engine, types: Iterable[str], key: str, since: dt.datetime
) -> dict[tuple[str, str | None], int]:
    field = json_text(AuditEvent.data, key)
    query = (
        select(AuditEvent.type, field, func.count())
        .where(AuditEvent.type.in_(tuple(types)), AuditEvent.occurred_at >= since)
        .group_by(AuditEvent.type, field)
    )
    with engine.connect() as connection:
        return {(row[0], row[1]): int(row[2]) for row in connection.execute(query)}


def sign_ins(engine: Engine, now: dt.datetime, *, minutes: int = 60) -> dict[str, Any]:
    """Sign-ins and failures per minute over the last ``minutes``, and the failures by reason."""
    since = now - dt.timedelta(minutes=minutes)
    counts = _counts_by_type_and_bucket(engine, SIGN_IN_TYPES + FAILURE_TYPES, since, 60)
    series = []
    for start in _buckets(since, now, 60):
        succeeded = sum(counts.get((t, start), 0) for t in SIGN_IN_TYPES)
        failed = sum(counts.get((t, start), 0) for t in FAILURE_TYPES)
        series.append({"at": start, "succeeded": succeeded, "failed": failed})
    split = _counts_by_type_and_field(engine, _SPLIT_BY_REASON, "reason", since)
    by_reason: dict[str, int] = dict.fromkeys(FAILURE_REASONS.values(), 0)
    for (event_type, reason), label in FAILURE_REASONS.items():
        if reason is None:
            by_reason[label] += sum(n for (t, _), n in counts.items() if t == event_type)
        else:
            by_reason[label] += split.get((event_type, reason), 0)
    other = sum(n for (t, r), n in split.items() if (t, r) not in FAILURE_REASONS)
    if other:
        by_reason["Autre refus"] = other
    return {
        "computed_at": _iso(now),
        "since": _iso(since),
        "minutes": minutes,
        "series": series,
        "succeeded": sum(point["succeeded"] for point in series),
        "failed": sum(point["failed"] for point in series),
        "failures": [{"reason": label, "count": count} for label, count in by_reason.items()],
    }


def lockouts(engine: Engine, now: dt.datetime, *, hours: int = 24) -> dict[str, Any]:
    """Lockouts per hour over the last ``hours``, by what was locked."""
    since = now - dt.timedelta(hours=hours)
    counts = _counts_by_type_and_bucket(engine, LOCKOUT_TYPES, since, 3600)
    series = [
        {"at": start, "counts": [counts.get((t, start), 0) for t in LOCKOUT_TYPES]}
        for start in _buckets(since, now, 3600)
    ]
    return {
        "computed_at": _iso(now),
        "since": _iso(since),
        "hours": hours,
        "kinds": list(LOCKOUT_TYPES.values()),
        "series": series,
        "totals": [sum(n for (t, _), n in counts.items() if t == event_type) for event_type in LOCKOUT_TYPES],
    }


def reassort_funnel(engine: Engine, now: dt.datetime, *, hours: int = 24) -> dict[str, Any]:
    """Réassort requested → link sent → link opened → code generated over the last ``hours``, by channel."""
    since = now - dt.timedelta(hours=hours)
    counts = _counts_by_type_and_field(engine, [t for t, _ in FUNNEL_STEPS], "channel", since)
    channels = sorted({channel or "?" for _, channel in counts}, key=lambda c: (c not in CHANNELS, c))
    rows = [
        {
            "channel": channel,
            "label": CHANNELS.get(channel, "Non précisé" if channel == "?" else channel),
            "steps": [counts.get((t, None if channel == "?" else channel), 0) for t, _ in FUNNEL_STEPS],
        }
        for channel in channels
    ]
    return {
        "computed_at": _iso(now),
        "since": _iso(since),
        "hours": hours,
        "steps": [label for _, label in FUNNEL_STEPS],
        "channels": rows,
        "totals": [sum(row["steps"][i] for row in rows) for i in range(len(FUNNEL_STEPS))],
    }


def delivery(engine: Engine, now: dt.datetime, *, hours: int = 24) -> dict[str, Any]:
    """The outbox now (messages waiting and the oldest of them, by channel) and the deliveries' outcomes per hour
    over the last ``hours``, by channel."""
    since = now - dt.timedelta(hours=hours)
    waiting = (
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == "pending")
        .group_by(OutboxMessage.channel)
    )
    with engine.connect() as connection:
        queue = {row[0]: (int(row[1]), row[2]) for row in connection.execute(waiting)}
    outbox = []
    for channel in sorted(set(queue) | {"email", "sms"}):
        depth, oldest = queue.get(channel, (0, None))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        outbox.append(
            {
                "channel": channel,
                "label": CHANNELS.get(channel, channel),
                "waiting": depth,
                "oldest": _iso(oldest) if oldest else None,
                "oldest_age": int((now - oldest).total_seconds()) if oldest else None,
            }
        )
    per_hour = _counts_by_type_and_bucket(engine, DELIVERY_OUTCOMES, since, 3600)
    by_channel = _counts_by_type_and_field(engine, DELIVERY_OUTCOMES, "channel", since)
    channels = sorted({channel or "?" for _, channel in by_channel} | {"email", "sms"})
    return {
        "computed_at": _iso(now),
        "since": _iso(since),
        "hours": hours,
        "outbox": outbox,
        "outcomes": list(DELIVERY_OUTCOMES.values()),
        "series": [
            {"at": start, "counts": [per_hour.get((t, start), 0) for t in DELIVERY_OUTCOMES]}
            for start in _buckets(since, now, 3600)
        ],
        "channels": [
            {
                "channel": channel,
                "label": CHANNELS.get(channel, channel),
                "counts": [by_channel.get((t, None if channel == "?" else channel), 0) for t in DELIVERY_OUTCOMES],
            }
            for channel in channels
        ],
    }
