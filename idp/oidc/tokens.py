"""Access and refresh tokens: storage (digests only), lookup, rotation with reuse detection, revocation.

Access tokens are opaque 256-bit random strings, not JWTs (RFC 9068): the election needs revocation to take effect
at once (logout, code reuse, refresh-token theft), which a self-contained token cannot offer before it expires; an
opaque token also carries no personal data. Resource servers ask the introspection endpoint. All tokens obtained
from one authorization code, and their refreshed successors, share a ``grant_id``: revoking the grant revokes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from hashchain.append import PipelinedWrite, pipeline
from idp.audit import queue_record, record
from idp.db import get_db, get_session
from idp.models import Voter, utcnow
from idp.oidc.crypto import digest, new_identifier
from idp.oidc.models import OidcAuthorizationCode, OidcClient, OidcToken
from idp.oidc.subjects import subject_for
from idp.security.keyed import KeyedHasher

logger = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 200


class TokenFacts(Protocol):
    """What RFC 7662 tells of a token: an :class:`OidcToken`, or a narrow row of the same columns."""

    @property
    def kind(self) -> str: ...
    @property
    def jti(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def scope(self) -> str: ...
    @property
    def auth_time(self) -> int | None: ...
    @property
    def acr(self) -> str | None: ...
    @property
    def issued_at(self) -> dt.datetime: ...
    @property
    def expires_at(self) -> dt.datetime: ...


def introspection_claims(token: TokenFacts, issuer: str) -> dict[str, Any]:
    """The members of an active token's introspection answer (RFC 7662 2.2). A service's token (client_credentials)
    has no subject and no authentication: those members are left out (all optional), not sent as null."""
    payload: dict[str, Any] = {
        "active": True,
        "scope": token.scope,
        "client_id": token.client_id,
        "sub": token.subject,
        "aud": token.client_id,
        "iss": issuer,
        "exp": int(token.expires_at.timestamp()),
        "iat": int(token.issued_at.timestamp()),
        "jti": token.jti,
        "auth_time": token.auth_time,
        "acr": token.acr,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    if token.kind == "access":
        payload["token_type"] = "Bearer"  # noqa: S105 - the RFC 6750 token type
    return payload


# Built once: every token request runs some of these, and building a statement costs about as much as running it.
_BY_DIGEST = select(OidcToken).where(OidcToken.token_hash == bindparam("token_hash"))
_BY_DIGEST_WITH_HOLDERS = _BY_DIGEST.options(joinedload(OidcToken.client), joinedload(OidcToken.voter))
#: Marks a refresh token rotated if it was neither rotated nor revoked (one of two concurrent uses wins).
TAKE_FOR_ROTATION = (
    update(OidcToken)
    .where(OidcToken.id == bindparam("token_id"), OidcToken.rotated_at.is_(None), OidcToken.revoked_at.is_(None))
    .values(rotated_at=bindparam("taken_at"))
    .execution_options(synchronize_session=False)
)


_TOKEN_TABLE: Table = OidcToken.__table__  # type: ignore[assignment]
_TOKENS = _TOKEN_TABLE.c
#: Marks that a token's client was told it is active (True) or inactive (False), unless that answer was marked
#: already: of two concurrent introspections one only matches (PostgreSQL re-checks the WHERE once the row's lock is
#: released; SQLite's writes are serialised).
_MARK_INTROSPECTED = {
    active: update(_TOKEN_TABLE)
    .where(_TOKENS.id == bindparam("token_id"), column.is_(None))
    .values({column.name: bindparam("marked_at", type_=column.type)})
    for active, column in ((True, _TOKENS.introspected_active_at), (False, _TOKENS.introspected_inactive_at))
}


class IntrospectionMarks(Protocol):
    """Which introspection answers of a token were recorded: an :class:`OidcToken`, or a narrow row."""

    @property
    def introspected_active_at(self) -> dt.datetime | None: ...
    @property
    def introspected_inactive_at(self) -> dt.datetime | None: ...


def introspection_recorded(token: IntrospectionMarks, active: bool) -> bool:
    """Whether the audit log holds ``token.introspected`` with this answer for this token already (as read)."""
    return (token.introspected_active_at if active else token.introspected_inactive_at) is not None


def record_introspection(
    session: Session,
    *,
    token_id: int,
    jti: str,
    active: bool,
    client_id: str,
    subject: str | None,
    chains: int | None = None,
) -> bool:
    """Append ``token.introspected`` for the client's own token ``token_id``, in ``session``'s transaction, if this
    answer (active or not) was never recorded for it; return whether it was.

    A resource server introspects the same token on every call it receives: the log holds the first time the client
    was told the token is active and the first time it was told it is inactive, not each repetition of the same
    answer. The mark and the event are written in the same transaction: both or neither. An introspection of an
    unknown token, or of another client's, is recorded every time by the caller (nothing to mark, and worth seeing).
    """
    taken = session.execute(_MARK_INTROSPECTED[active], {"token_id": token_id, "marked_at": utcnow()})
    if getattr(taken, "rowcount", 0) != 1:
        return False
    record(session, "token.introspected", subject=subject, client_id=client_id, chains=chains, jti=jti, active=active)
    return True


_MARK_INTROSPECTED_WRITE = {active: PipelinedWrite(statement) for active, statement in _MARK_INTROSPECTED.items()}


def send_introspection(
    session: Session,
    *,
    token_id: int,
    jti: str,
    active: bool,
    client_id: str,
    subject: str | None,
    chains: int | None = None,
) -> bool:
    """:func:`record_introspection` in one round trip on PostgreSQL (psycopg's pipeline): the mark and
    ``token.introspected`` are sent together, the mark first (a request that waits for a concurrent one's row lock
    holds no audit chain meanwhile). Returns whether the mark took. When it did not (a concurrent request recorded
    this answer first), the event was written all the same: **the caller must roll its transaction back**, which
    leaves the log and the marks as :func:`record_introspection` would have (the other request's event only)."""
    with pipeline(session) as driver:
        taken = _MARK_INTROSPECTED_WRITE[active].send(session, driver, {"token_id": token_id, "marked_at": utcnow()})
        queued = queue_record(
            session, "token.introspected", subject=subject, client_id=client_id, chains=chains, jti=jti, active=active
        )
    queued.result()
    return getattr(taken, "rowcount", 0) == 1


def find(session: Session, value: Any, *, holders: bool = False) -> OidcToken | None:
    """The token whose digest matches ``value`` (any kind), or None.

    ``holders``: load its client and its voter in the same statement (``token.client``, ``token.voter``), for the
    endpoints that check or use them.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_LENGTH:
        return None
    statement = _BY_DIGEST_WITH_HOLDERS if holders else _BY_DIGEST
    return session.execute(statement, {"token_hash": digest(value)}).scalar_one_or_none()


#: Each engine's autocommit view (built once: building one is not free).
_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def find_alone(value: Any) -> OidcToken | None:
    """:func:`find` with the holders, as the only statement of a request (userinfo): on PostgreSQL it runs outside
    any transaction (autocommit), which spares the ``BEGIN`` and ``ROLLBACK`` round trips around one ``SELECT``;
    a single statement sees one consistent snapshot either way. The rows come back detached, fully loaded."""
    engine = get_db().engine
    if engine.dialect.name != "postgresql":
        return find(get_session(), value, holders=True)
    autocommit = _AUTOCOMMIT.get(engine)
    if autocommit is None:
        autocommit = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    with Session(autocommit, expire_on_commit=False) as session:
        return find(session, value, holders=True)


def revoke_grant(session: Session, grant_id: str, *, reason: str, client_id: str, subject: str | None) -> int:
    """Revoke every live token of a grant; return how many were revoked (audited as one event)."""
    result = session.execute(
        update(OidcToken)
        .where(OidcToken.grant_id == grant_id, OidcToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    record(session, "token.revoked", subject=subject, client_id=client_id, grant=grant_id, reason=reason, count=count)
    return count


def revoke_by_sid(session: Session, sid: str, *, client_id: str, subject: str | None) -> int:
    """Revoke the tokens obtained within one client session (logout)."""
    result = session.execute(
        update(OidcToken)
        .where(OidcToken.sid == sid, OidcToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        record(session, "token.revoked", subject=subject, client_id=client_id, reason="logout", count=count)
    return count


def revoke_one(session: Session, token: OidcToken, *, reason: str, voter_subject: str | None) -> None:
    """Revoke one token; revoking a refresh token revokes its whole grant (RFC 7009 2.1)."""
    if token.kind == "refresh":
        revoke_grant(session, token.grant_id, reason=reason, client_id=token.client_id, subject=voter_subject)
        return
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    record(
        session,
        "token.revoked",
        subject=voter_subject,
        client_id=token.client_id,
        jti=token.jti,
        kind=token.kind,
        reason=reason,
    )


@dataclass(frozen=True)
class RefreshReused:
    """A refresh token presented after its rotation: two parties hold it, its grant is to be revoked."""

    grant_id: str
    client_id: str
    subject: str | None
    jti: str


def consume_refresh(
    session: Session, value: str, client: OidcClient, *, found: OidcToken | None = None
) -> OidcToken | RefreshReused | None:
    """Take a refresh token for rotation: atomically mark it rotated (uncommitted), so it can be used once.

    ``found``: the token already read for ``value`` in this transaction (with its holders), or None to read it.
    Presenting a token already rotated means two parties hold it (theft, or a leaked copy): :class:`RefreshReused`
    is returned, for the caller to revoke the grant (:func:`revoke_reused`) durably although the request answers
    ``invalid_grant``. None: unknown, another client's, revoked or expired.
    """
    token = found if found is not None else find(session, value, holders=True)
    if token is None or token.kind != "refresh" or token.client_id != client.client_id:
        return None
    if token.revoked_at is not None or token.is_expired():
        return None
    if token.rotated_at is None:
        now = utcnow()
        taken = session.execute(TAKE_FOR_ROTATION, {"token_id": token.id, "taken_at": now})
        if getattr(taken, "rowcount", 0) == 1:
            # The row is now what was read plus this mark (the WHERE proved it was neither rotated nor revoked,
            # and nothing else of a token changes): record it in memory rather than read the row again.
            set_committed_value(token, "rotated_at", now)
            return token
    voter = token.voter
    logger.warning("refresh token reuse detected for client %s: grant revoked", client.client_id)
    return RefreshReused(
        grant_id=token.grant_id, client_id=client.client_id, subject=voter.subject if voter else None, jti=token.jti
    )


def revoke_reused(session: Session, reuse: RefreshReused) -> None:
    """Revoke every token of a reused refresh token's grant, audited (not committed)."""
    revoke_grant(
        session, reuse.grant_id, reason="refresh_token_reuse", client_id=reuse.client_id, subject=reuse.subject
    )
    record(
        session,
        "token.refresh_reused",
        subject=reuse.subject,
        client_id=reuse.client_id,
        jti=reuse.jti,
        grant=reuse.grant_id,
    )


def save(session: Session, token: dict[str, Any], request: Any, keyed: KeyedHasher) -> OidcToken:
    """Store what the token endpoint is about to return (Authlib's ``save_token``) and audit it; return the access
    token's row. ``keyed``: the application's keyed hasher, for a pairwise ``sub``.

    Not committed here: the token endpoint commits once Authlib has built the response, ID token included
    (:mod:`idp.oidc.boundary`), so a request is one transaction and nothing is stored for a response that could not
    be completed.
    """
    client: OidcClient = request.client
    code: OidcAuthorizationCode | None = request.authorization_code
    previous: OidcToken | None = request.refresh_token
    if code is None and previous is None:
        return _save_service_token(session, token, client)
    voter: Voter = request.user
    now = utcnow()
    auth_time: int | None
    acr: str | None
    subject: str | None
    if code is not None:
        grant_id, auth_time, acr, amr, sid = code.grant_id, code.auth_time, code.acr, list(code.amr), code.sid
        subject = subject_for(client, voter.subject, keyed)
        refresh_scope = code.scope
        refresh_expires = now + dt.timedelta(seconds=client.refresh_token_ttl)
        event = "token.issued"
    elif previous is not None:
        grant_id, auth_time, acr, amr, sid = (
            previous.grant_id,
            previous.auth_time,
            previous.acr,
            list(previous.amr),
            previous.sid,
        )
        subject = previous.subject
        # RFC 6749 6: the new refresh token has the scope of the old one, even when the access token is narrower;
        # its lifetime is that of the grant (rotation does not extend it).
        refresh_scope = previous.scope
        refresh_expires = previous.expires_at
        event = "token.refreshed"
    else:  # pragma: no cover - excluded above
        raise RuntimeError("token issued without a code or a refresh token")
    common = {
        "grant_id": grant_id,
        "client_id": client.client_id,
        "voter_id": voter.id,
        "subject": subject,
        "auth_time": auth_time,
        "acr": acr,
        "amr": amr,
        "sid": sid,
        "issued_at": now,
    }
    access = OidcToken(
        kind="access",
        token_hash=digest(token["access_token"]),
        jti=new_identifier(),
        scope=token.get("scope", ""),
        expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
        **common,
    )
    session.add(access)
    details: dict[str, Any] = {
        "grant": grant_id,
        "jti": access.jti,
        "expires_at": int(access.expires_at.timestamp()),
        "scope": access.scope,
    }
    if "refresh_token" in token:
        refresh = OidcToken(
            kind="refresh",
            token_hash=digest(token["refresh_token"]),
            jti=new_identifier(),
            scope=refresh_scope,
            expires_at=refresh_expires,
            **common,
        )
        session.add(refresh)
        details["refresh_jti"] = refresh.jti
        details["refresh_expires_at"] = int(refresh.expires_at.timestamp())
    if previous is not None:
        details["previous_jti"] = previous.jti
    record(session, event, subject=voter.subject, client_id=client.client_id, **details)
    return access


def _save_service_token(session: Session, token: dict[str, Any], client: OidcClient) -> OidcToken:
    """A service's access token (client_credentials): no voter, no subject, no authentication, no refresh token;
    a grant of its own, so that it is revoked alone. Audited as ``token.issued`` with its grant type."""
    now = utcnow()
    access = OidcToken(
        kind="access",
        token_hash=digest(token["access_token"]),
        jti=new_identifier(),
        grant_id=new_identifier(),
        client_id=client.client_id,
        voter_id=None,
        subject=None,
        scope=token.get("scope", ""),
        auth_time=None,
        acr=None,
        amr=[],
        sid=None,
        issued_at=now,
        expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
    )
    session.add(access)
    record(
        session,
        "token.issued",
        client_id=client.client_id,
        grant_type="client_credentials",
        grant=access.grant_id,
        jti=access.jti,
        expires_at=int(access.expires_at.timestamp()),
        scope=access.scope,
    )
    return access
