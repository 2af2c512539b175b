"""The IdP session as the provider sees it, and the per-client sessions (``sid``) of back-channel logout.

The IdP session gets a random identifier, kept in the server-side session data, when it first signs a voter in
to a client. It does not change when the session id in the cookie is renewed (step-up) and disappears with the
session data at sign-in and sign-out, so it names exactly one sign-in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import session as browser_session
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.models import Base
from idp.oidc.crypto import new_identifier
from idp.oidc.direct_read import DirectRead
from idp.oidc.models import OidcClient, OidcClientSession

_KEY = "oidc_op_session"


def op_session_id(*, create: bool) -> str | None:
    value = browser_session.get(_KEY)
    if not value and create:
        value = _new_op_session()
    return str(value) if value else None


def _new_op_session() -> str:
    value = new_identifier(24)
    browser_session[_KEY] = value
    return value


def op_ref(op_session: str) -> str:
    """What the database keeps of the IdP session identifier: its hash (the identifier is a bearer secret)."""
    return hashlib.sha256(op_session.encode()).hexdigest()


def current_op_ref() -> str | None:
    value = op_session_id(create=False)
    return op_ref(value) if value else None


def client_session(session: Session, client: OidcClient, voter_id: int, subject: str) -> str:
    """The ``sid`` of the current IdP session at ``client``, created on first use (not committed).

    An IdP session identifier made in this request is new to the database: its row is inserted without looking for
    it first. Otherwise the row is looked for, and created if missing by an ``INSERT … ON CONFLICT DO NOTHING``:
    two authorizations of one browser for one client at the same instant both end with the row one of them made.
    Core statements on the session's connection (the look-up through psycopg directly on PostgreSQL): the row is
    never needed as an object, and the unit of work would about double the cost of writing it.
    """
    current = browser_session.get(_KEY)
    sid = new_identifier(24)
    connection = session.connection()
    row = {"sid": sid, "client_id": client.client_id, "voter_id": voter_id, "subject": subject}
    if not current:
        connection.execute(_TABLE.insert(), {**row, "op_session": op_ref(_new_op_session())})
        return sid
    ref = op_ref(str(current))
    found = _FIND_READ.first_in(session, {"op_session": ref, "client_id": client.client_id})
    if found is not None and found.ended_at is None:
        return str(found.sid)
    if found is not None:
        # The IdP session was ended at this client (logout) while its identifier lives on: a new sid.
        connection.execute(update(_TABLE).where(_TABLE.c.id == found.id).values(sid=sid, ended_at=None))
        return sid
    insert_fn: Any = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    insert = insert_fn(_TABLE).values(op_session=ref, **row)
    inserted = connection.execute(insert.on_conflict_do_nothing(index_elements=["op_session", "client_id"]))
    if inserted.rowcount != 1:
        # The other authorization created it first.
        other = _FIND_READ.first_in(session, {"op_session": ref, "client_id": client.client_id})
        if other is None:
            raise RuntimeError("the client session the insert conflicted with is gone")
        return str(other.sid)
    return sid


_TABLE = Base.metadata.tables[OidcClientSession.__tablename__]
#: The client session of an IdP session (its hash) at a client, as columns, not as an object.
_FIND = select(_TABLE.c.id, _TABLE.c.sid, _TABLE.c.ended_at).where(
    _TABLE.c.op_session == bindparam("op_session"), _TABLE.c.client_id == bindparam("client_id")
)
#: Read on the session's connection through psycopg directly on PostgreSQL (:mod:`idp.oidc.direct_read`: about half
#: the CPU of SQLAlchemy's ``Connection``), in the code's write transaction.
_FIND_READ = DirectRead(_FIND)


def find_by_sid(session: Session, sid: str) -> OidcClientSession | None:
    return session.execute(select(OidcClientSession).where(OidcClientSession.sid == sid)).scalar_one_or_none()


def live_sessions(session: Session, ref: str) -> list[OidcClientSession]:
    return list(
        session.execute(
            select(OidcClientSession).where(OidcClientSession.op_session == ref, OidcClientSession.ended_at.is_(None))
        ).scalars()
    )
