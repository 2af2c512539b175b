"""The auditors' view of tokens: their life as the log tells it, with what the token table still knows about them.

The log is the history (it keeps every issue, rotation, revocation and introspection for good, with the client and
the ``jti``); the ``oidc_token`` table adds what only it holds while a token exists: its kind, the subject the
client knows the account by (pairwise for a third-party client), its expiry and its current state. Neither holds a
token: the table keeps a SHA-256 of each, which is never read here. Read-only: selects only.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hashchain import ChainedEvent, Source
from idp.audit.log import COLUMNS, LOG
from idp.audit.query import Cursor, EventFilter, newest_first
from idp.models import AuditEvent, Voter, utcnow
from idp.oidc.models import OidcToken

TOKEN_EVENT_TYPES = ("token.issued", "token.refreshed", "token.revoked", "token.introspected", "token.refresh_reused")
#: Keys of an event's data that name a token.
_JTI_KEYS = ("jti", "refresh_jti", "previous_jti")
JTI_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ROTATED = "rotated"


@dataclass(frozen=True)
class TokenMetadata:
    jti: str
    kind: str
    client_id: str
    #: The ``sub`` this client received (public or pairwise).
    client_subject: str
    grant_id: str
    scope: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    rotated_at: dt.datetime | None

    def state(self, now: dt.datetime) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.rotated_at is not None:
            return TokenState.ROTATED
        return TokenState.EXPIRED if self.expires_at <= now else TokenState.ACTIVE


_METADATA_COLUMNS = (
    OidcToken.jti,
    OidcToken.kind,
    OidcToken.client_id,
    OidcToken.subject,
    OidcToken.grant_id,
    OidcToken.scope,
    OidcToken.issued_at,
    OidcToken.expires_at,
    OidcToken.revoked_at,
    OidcToken.rotated_at,
)


@dataclass(frozen=True)
class TokenEvent:
    event: ChainedEvent
    details: dict[str, Any]
    #: The tokens the event names, in the order of :data:`_JTI_KEYS`, with their table metadata when still there.
    tokens: tuple[tuple[str, str, TokenMetadata | None], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class TokenFilter:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    types: tuple[str, ...] = ()
    client_id: str | None = None
    #: The IdP's pseudonymous subject, or the subject a client knows the account by.
    subject: str | None = None
    jti: str | None = None


@dataclass(frozen=True)
class TokenPage:
    events: tuple[TokenEvent, ...]
    next: Cursor | None
    now: dt.datetime


def _subjects(connection: Any, subject: str) -> tuple[str, ...]:
    """The subject itself, and the IdP subject of the account a client knows by it (pairwise ``sub``)."""
    found = (
        connection.execute(
            select(Voter.subject)
            .join(OidcToken, OidcToken.voter_id == Voter.id)
            .where(OidcToken.subject == subject)
            .distinct()
        )
        .scalars()
        .all()
    )
    return tuple(dict.fromkeys([subject, *found]))


def _named_jtis(details: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, value) for key in _JTI_KEYS if isinstance(value := details.get(key), str)]


def _metadata(connection: Any, jtis: Iterable[str]) -> dict[str, TokenMetadata]:
    wanted = sorted(set(jtis))
    if not wanted:
        return {}
    rows = connection.execute(select(*_METADATA_COLUMNS).where(OidcToken.jti.in_(wanted))).all()
    return {row.jti: TokenMetadata(*row) for row in rows}


def page_of_token_events(
    source: Source, filters: TokenFilter, *, after: Cursor | None = None, size: int = 50
) -> TokenPage:
    types = tuple(t for t in filters.types if t in TOKEN_EVENT_TYPES) or TOKEN_EVENT_TYPES
    with LOG.reading(source) as connection:
        subjects = _subjects(connection, filters.subject) if filters.subject else ()
        query = EventFilter(
            since=filters.since, until=filters.until, types=types, client_id=filters.client_id, subjects=subjects
        ).apply(select(*COLUMNS))
        if filters.jti:
            if not JTI_RE.fullmatch(filters.jti):
                raise ValueError("not a jti")
            # The data column is canonical JSON: a jti appears in it as a quoted string value.
            pattern = '%"' + filters.jti.replace("_", "\\_") + '"%'
            query = query.where(AuditEvent.data.like(pattern, escape="\\"))
        rows = connection.execute(newest_first(query, after=after, size=size)).all()
        events = [ChainedEvent.from_row(row) for row in rows[:size]]
        parsed = [(event, json.loads(event.data)) for event in events]
        known = _metadata(connection, (jti for _, details in parsed for _, jti in _named_jtis(details)))
    items = tuple(
        TokenEvent(event, details, tuple((key, jti, known.get(jti)) for key, jti in _named_jtis(details)))
        for event, details in parsed
    )
    following = Cursor(events[-1].occurred_at, events[-1].id) if len(rows) > size else None
    return TokenPage(items, following, utcnow())
