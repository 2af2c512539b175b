"""The IdP session as the provider sees it, and the per-client sessions (``sid``) of back-channel logout.

The IdP session gets a random identifier, kept in the server-side session data, when it first signs a voter in
to a client. It does not change when the session id in the cookie is renewed (step-up) and disappears with the
session data at sign-in and sign-out, so it names exactly one sign-in.
"""

from __future__ import annotations

import hashlib

from flask import session as browser_session
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.oidc.crypto import new_identifier
from idp.oidc.models import OidcClient, OidcClientSession

_KEY = "oidc_op_session"


def op_session_id(*, create: bool) -> str | None:
    value = browser_session.get(_KEY)
    if not value and create:
        value = new_identifier(24)
        browser_session[_KEY] = value
    return str(value) if value else None


def op_ref(op_session: str) -> str:
    """What the database keeps of the IdP session identifier: its hash (the identifier is a bearer secret)."""
    return hashlib.sha256(op_session.encode()).hexdigest()


def current_op_ref() -> str | None:
    value = op_session_id(create=False)
    return op_ref(value) if value else None


def client_session(session: Session, client: OidcClient, voter_id: int, subject: str) -> str:
    """The ``sid`` of the current IdP session at ``client``, created on first use."""
    ref = op_ref(op_session_id(create=True) or "")
    query = select(OidcClientSession).where(
        OidcClientSession.op_session == ref, OidcClientSession.client_id == client.client_id
    )
    row = session.execute(query).scalar_one_or_none()
    if row is not None and row.ended_at is None:
        return row.sid
    if row is not None:
        # The IdP session was ended at this client (logout) while its identifier lives on: a new sid.
        row.sid = new_identifier(24)
        row.ended_at = None
        return row.sid
    row = OidcClientSession(
        sid=new_identifier(24), op_session=ref, client_id=client.client_id, voter_id=voter_id, subject=subject
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Two authorizations of one browser for one client at the same instant: the other one created it.
        return str(session.execute(query).scalar_one().sid)
    return row.sid


def find_by_sid(session: Session, sid: str) -> OidcClientSession | None:
    return session.execute(select(OidcClientSession).where(OidcClientSession.sid == sid)).scalar_one_or_none()


def live_sessions(session: Session, ref: str) -> list[OidcClientSession]:
    return list(
        session.execute(
            select(OidcClientSession).where(OidcClientSession.op_session == ref, OidcClientSession.ended_at.is_(None))
        ).scalars()
    )
