"""Authorization codes: issued hashed, valid under a minute, redeemed once.

Redemption is an atomic conditional UPDATE (``used_at`` set only where it is still NULL) in the same transaction as
the tokens it yields: of two concurrent redemptions one wins; the other, and any later one, is a *reuse*
(:class:`CodeReused`), which revokes every token obtained from the code (RFC 6749 4.1.2, :func:`revoke_reused`) and
answers ``invalid_grant``. On PostgreSQL the loser's UPDATE waits for the winner's commit, so the tokens it revokes
include the winner's.

Nothing here commits: the token endpoint does (:mod:`idp.oidc.boundary`). The revocation of a reused code's grant
is kept although the request answers an error: the grant declares it with
:func:`~idp.oidc.boundary.keep_even_if_refused`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from idp.audit import record
from idp.models import Base, Voter, utcnow
from idp.oidc.context import SignedIn
from idp.oidc.crypto import digest, new_identifier
from idp.oidc.models import OidcAuthorizationCode, OidcClient
from idp.oidc.tokens import MAX_TOKEN_LENGTH, revoke_grant

logger = logging.getLogger(__name__)


def save(session: Session, code: str, request: Any, ttl: int) -> str:
    """Store a new code for ``request`` (Authlib's ``save_authorization_code``) with its audit event (not
    committed); return its grant id.

    One Core ``INSERT`` on the session's connection: nothing in the request reads the row back, and the unit of work
    would about double the cost of writing it.
    """
    client: OidcClient = request.client
    user: SignedIn = request.user
    data = request.payload.data
    grant_id = new_identifier()
    scope = request.scope or ""
    session.connection().execute(
        _CODES.insert(),
        {
            "code_hash": digest(code),
            "client_id": client.client_id,
            "voter_id": user.voter.id,
            "grant_id": grant_id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": scope,
            "nonce": data.get("nonce") or None,
            "code_challenge": data.get("code_challenge") or None,
            "code_challenge_method": data.get("code_challenge_method") or None,
            "auth_time": user.auth.auth_time,
            "acr": user.auth.acr,
            "amr": list(user.auth.amr),
            "sid": user.sid,
            "expires_at": utcnow() + dt.timedelta(seconds=ttl),
        },
    )
    record(
        session,
        "oidc.code_issued",
        subject=user.voter.subject,
        client_id=client.client_id,
        grant=grant_id,
        scope=scope,
        acr=user.auth.acr,
        expires_in=ttl,
    )
    return grant_id


_CODES = Base.metadata.tables[OidcAuthorizationCode.__tablename__]


@dataclass(frozen=True)
class CodeReused:
    """A code presented again (or redeemed by two requests at once): its grant is to be revoked."""

    grant_id: str
    client_id: str
    subject: str | None


def consume(session: Session, code: Any, client: OidcClient) -> OidcAuthorizationCode | CodeReused | None:
    """The code if ``client`` may redeem it now (marking it used, uncommitted); :class:`CodeReused` if it was
    redeemed already; None if it is unknown, another client's or expired."""
    if not isinstance(code, str) or not code or len(code) > MAX_TOKEN_LENGTH:
        return None
    row = session.execute(
        select(OidcAuthorizationCode).where(OidcAuthorizationCode.code_hash == digest(code))
    ).scalar_one_or_none()
    if row is None or row.client_id != client.client_id:
        return None
    if row.used_at is None:
        if row.expires_at <= utcnow():
            return None
        now = utcnow()
        taken = session.execute(
            update(OidcAuthorizationCode)
            .where(OidcAuthorizationCode.id == row.id, OidcAuthorizationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            # Only used_at changed (the WHERE proved it was unset): no need to read the row again.
            set_committed_value(row, "used_at", now)
            return row
    voter = session.get(Voter, row.voter_id)
    logger.warning("authorization code reuse by client %s: tokens of its grant revoked", client.client_id)
    return CodeReused(grant_id=row.grant_id, client_id=client.client_id, subject=voter.subject if voter else None)


def revoke_reused(session: Session, reuse: CodeReused) -> None:
    """Revoke every token of a reused code's grant, audited (not committed)."""
    record(session, "oidc.code_reused", subject=reuse.subject, client_id=reuse.client_id, grant=reuse.grant_id)
    revoke_grant(session, reuse.grant_id, reason="code_reuse", client_id=reuse.client_id, subject=reuse.subject)
