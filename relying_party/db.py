"""The portal's database: :mod:`infra.db` bound to the portal, with the key of its audit log's pseudonyms.

Pages read through the request's reader session (:func:`get_session`, no lock on SQLite); writes go through
:meth:`~infra.db.Database.transaction`, in a transaction of their own.
"""

from __future__ import annotations

import secrets

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from infra import db as infra_db
from infra.db import READ_ONLY, make_engine, request_session

__all__ = ["READ_ONLY", "Database", "get_db", "get_session", "make_engine"]


class Database(infra_db.Database):
    """The portal's engine and session factories.

    ``audit_key`` is the key of the voters' pseudonyms in the audit log (:mod:`relying_party.audit.pseudonym`),
    kept here because every service that writes an audit event is handed the database, inside a request or not.
    The web application passes its configured key; without one (scripts, benchmarks, operators' commands, which
    never pseudonymise a voter) the instance draws a random key: pseudonyms nobody can link to a voter.

    On SQLite deleted rows are overwritten with zeros (``secure_delete``): once the ballot box is mixed, the rows it
    deleted (in casting order) are gone from the file (docs, "Ballot secrecy").

    On PostgreSQL a page's reads run outside any transaction (``autocommit_pages``: two round trips fewer per page).
    """

    def __init__(self, url: str, *, audit_key: bytes | None = None, engine: Engine | None = None) -> None:
        super().__init__(url, engine=engine, secure_delete=True, autocommit_pages=True)
        self.audit_key = audit_key if audit_key is not None else secrets.token_bytes(32)


def get_db(app: Flask | None = None) -> Database:
    """The database of ``app`` (default: the current app)."""
    db = infra_db.get_db(app)
    assert isinstance(db, Database)
    return db


def get_session() -> Session:
    """The request's read session (one per application context), closed before the response is sent."""
    return request_session()
