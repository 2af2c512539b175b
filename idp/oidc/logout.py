"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) on Authlib's ``EndSessionEndpoint``, and the end
of an IdP session: its client sessions end, their tokens are revoked, back-channel logout notices are queued.

Every sign-out goes through :func:`idp.auth.signout.end_session`; the provider takes part through the hook
:func:`end_client_sessions_of_browser`, registered by :func:`idp.oidc.init_app`, so that clients with a
back-channel logout URI learn of it.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.audit import record
from idp.auth.signout import end_session
from idp.auth.state import Authentication, current_authentication
from idp.db import get_session
from idp.models import utcnow
from idp.oidc import clients, sessions, tokens
from idp.oidc.interaction import ID_TOKEN_ALGS
from idp.oidc.models import OidcClient, OidcClientSession, OidcLogoutNotice, OidcToken
from idp.oidc.provider import get_provider


def end_client_sessions_of_browser(session: Session, auth: Authentication | None) -> None:
    """The provider's part of a sign-out (a hook of :mod:`idp.auth.signout`): end this browser's client sessions,
    revoke their tokens and queue the back-channel logout notices (not committed)."""
    ref = sessions.current_op_ref()
    if ref is not None:
        _end_client_sessions(session, sessions.live_sessions(session, ref), auth.subject if auth else None)


def end_voter_sessions(session: Session, voter_id: int, voter_subject: str, *, reason: str) -> int:
    """End every client session of a voter, on every device, and revoke all the voter's tokens (not committed).

    Called when the voter's password is changed through the réassort: « all sessions of that voter end » includes
    the refresh tokens held by client applications, and the clients with a back-channel URI are told.
    """
    live = list(
        session.execute(
            select(OidcClientSession).where(
                OidcClientSession.voter_id == voter_id, OidcClientSession.ended_at.is_(None)
            )
        ).scalars()
    )
    queued = _end_client_sessions(session, live, voter_subject)
    grants = session.execute(
        select(OidcToken.grant_id, OidcToken.client_id)
        .where(OidcToken.voter_id == voter_id, OidcToken.revoked_at.is_(None))
        .distinct()
    ).all()
    for grant_id, client_id in grants:
        tokens.revoke_grant(session, grant_id, reason=reason, client_id=client_id, subject=voter_subject)
    return queued


def _end_client_sessions(session: Session, live: list[OidcClientSession], voter_subject: str | None) -> int:
    """End these client sessions: revoke their tokens and queue a back-channel notice where the client has a URI."""
    queued = 0
    for client_session in live:
        client_session.ended_at = utcnow()
        tokens.revoke_by_sid(session, client_session.sid, client_id=client_session.client_id, subject=voter_subject)
        client = clients.find_active(session, client_session.client_id)
        if client is not None and client.backchannel_logout_uri:
            session.add(
                OidcLogoutNotice(client_id=client.client_id, subject=client_session.subject, sid=client_session.sid)
            )
            record(
                session,
                "logout.backchannel_queued",
                subject=voter_subject,
                client_id=client.client_id,
                sid=client_session.sid,
            )
            queued += 1
    return queued


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> KeySet:
        return get_provider().keys.verification_keys(get_session())

    def get_algorithms(self) -> list[str]:
        return list(ID_TOKEN_ALGS)

    def validate_request(self, request: Any) -> EndSessionRequest:
        data = request.payload.data
        for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state"):
            if len(request.payload.datalist.get(name, [])) > 1:
                raise InvalidRequestError(f"Repeated '{name}' parameter.")
        client_id = data.get("client_id")
        if client_id is not None and clients.find_active(get_session(), client_id) is None:
            raise InvalidRequestError("Unknown client_id.")
        validated: EndSessionRequest = super().validate_request(request)
        claims = validated.id_token_claims
        if claims is not None and claims.get("iss") != get_provider().issuer:
            raise InvalidRequestError("id_token_hint was not issued by this provider.")
        wanted = data.get("post_logout_redirect_uri")
        if wanted and validated.redirect_uri is None:
            # Not registered for the client named by the hint or client_id (or no client named): an error page,
            # never a redirect (RP-Initiated Logout 3 and 4).
            raise InvalidRequestError("post_logout_redirect_uri is not registered for this client.")
        return validated

    def is_post_logout_redirect_uri_legitimate(
        self, request: Any, post_logout_redirect_uri: str, client: OidcClient, logout_hint: str | None
    ) -> bool:
        # Without an ID token hint, an exactly registered URI of the named client is used only after the voter
        # confirmed the logout on our page (needs_confirmation), which is the confirmation the spec asks for.
        return True

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        end_session(get_session(), via="end_session")


def hint_matches_current_session(request: EndSessionRequest) -> bool:
    """Whether the ID token hint names a client session of this browser's IdP session (or there is none)."""
    claims = request.id_token_claims
    if claims is None:
        return False
    ref = sessions.current_op_ref()
    if ref is None or current_authentication() is None:
        return True  # nothing to end here: no need to ask
    sid = claims.get("sid")
    row = sessions.find_by_sid(get_session(), sid) if isinstance(sid, str) else None
    return row is not None and row.op_session == ref
