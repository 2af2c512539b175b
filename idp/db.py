"""The IdP's database: :mod:`infra.db` bound to the IdP (one :class:`~infra.db.Database` per application).

The IdP's request session writes: services write in it without committing and the views commit it (a service that
places its own transaction boundaries, like the password check, says why), so on SQLite it starts with
``BEGIN IMMEDIATE`` like every writer. It is closed before the response is sent.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from infra.db import Database, begin_writes, get_db, make_engine, read_until_write, request_session


def get_session() -> Session:
    """The request's session (one per application context), closed before the response is sent."""
    return request_session()


__all__ = ["Database", "begin_writes", "get_db", "get_session", "make_engine", "read_until_write"]
