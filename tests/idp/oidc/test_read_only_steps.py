"""The provider's steps that only read run outside any transaction on PostgreSQL: ``/authorize`` when it answers
with the identifier page or the vote-code step (it keeps the request in the store, writes nothing to the database),
its POST, and the vote-code page's GET — no ``BEGIN`` and no ``COMMIT``/``ROLLBACK`` round trips around their reads
(:func:`infra.db.read_until_write`). ``/authorize`` that issues a code still writes the code and its client session
in one transaction, committed once, and nothing of it is left when the request fails halfway.

Transactions are counted at the driver: a statement sent on a connection outside autocommit and outside a
transaction makes psycopg send ``BEGIN`` first; on SQLite, the ``BEGIN`` statements themselves (the reads there take
a deferred transaction, which locks nothing).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from psycopg import pq
from sqlalchemy import event, func, select

from idp.auth.state import ACR_VOTE_CODE
from idp.db import get_db
from idp.oidc import direct_read, grants
from idp.oidc.sessions import _TABLE as CLIENT_SESSIONS
from tests.oidc_helpers import pending_next, query_of, shows_identifier_page, shows_vote_code_page

pytest_plugins = ["tests.oidc_fixtures"]
#: The module hashchain.append (the package exports its function under the same name).
appending = importlib.import_module("hashchain.append")


@dataclass
class Recorded:
    #: Transactions begun: psycopg's implicit ``BEGIN`` (PostgreSQL) or the ``BEGIN`` statements (SQLite).
    begins: int = 0
    #: Statements sent outside any transaction (PostgreSQL's autocommit).
    outside: list[str] = field(default_factory=list)
    #: Statements sent in a transaction.
    inside: list[str] = field(default_factory=list)
    #: The driver's connections that read in autocommit.
    autocommit_drivers: list[Any] = field(default_factory=list)

    def inside_touching(self, table: str) -> list[str]:
        return [s for s in self.inside if table in s]


@contextlib.contextmanager
def recording(app: Flask) -> Iterator[Recorded]:
    engine = get_db(app).engine
    found = Recorded()
    postgres = engine.dialect.name == "postgresql"
    pipelined = appending.send

    def note(driver: Any, statement: str) -> None:
        if not postgres:
            if statement.split()[0].upper() == "BEGIN":
                found.begins += 1
            found.inside.append(statement)
        elif driver.autocommit:
            found.outside.append(statement)
            found.autocommit_drivers.append(driver)
        else:
            if driver.info.transaction_status == pq.TransactionStatus.IDLE:
                found.begins += 1
            found.inside.append(statement)

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        note(conn.connection.dbapi_connection, statement)

    def pipelined_send(cursor: Any, sql: str, params: Any) -> None:  # the audit append's pipeline on PostgreSQL
        note(cursor.connection, sql)
        pipelined(cursor, sql, params)

    read_directly = direct_read.execute

    def direct_execute(cursor: Any, sql: str, params: Any) -> Any:  # a prepared read through psycopg directly
        note(cursor.connection, sql)
        return read_directly(cursor, sql, params)

    event.listen(engine, "before_cursor_execute", on_execute)
    appending.send = pipelined_send
    direct_read.execute = direct_execute
    try:
        yield found
    finally:
        appending.send = pipelined
        direct_read.execute = read_directly
        event.remove(engine, "before_cursor_execute", on_execute)


#: The reads' transactions: none on PostgreSQL, SQLite's deferred one.
READ_BEGINS = {"sqlite": 1, "postgresql": 0}
#: A code issued: the one write transaction (after SQLite's deferred one for the reads).
ISSUE_BEGINS = {"sqlite": 2, "postgresql": 1}


def test_authorize_answering_with_the_identifier_page_begins_no_transaction(app, backend, flow, rp):
    params, _ = flow.request_params(rp)
    with recording(app) as recorded:
        page = flow.client.get("/authorize?" + urlencode(params))
    assert shows_identifier_page(page)
    assert pending_next(flow.client), "the request is kept (in the store) for its resumption"
    assert recorded.begins == READ_BEGINS[backend.name], recorded
    if backend.name == "postgresql":
        assert recorded.inside == [] and any("oidc_client" in s for s in recorded.outside), recorded
        # Back in the pool as it was made: its next transaction opens with a plain BEGIN (no isolation level named).
        assert all(not d.autocommit and d.isolation_level is None for d in recorded.autocommit_drivers)


def test_authorize_post_begins_no_transaction(app, backend, flow, rp):
    params, _ = flow.request_params(rp)
    with recording(app) as recorded:
        answer = flow.client.post("/authorize", data=params)
    assert answer.status_code == 303 and "/authorize/resume?tx=" in answer.headers["Location"]
    assert recorded.begins == READ_BEGINS[backend.name], recorded
    assert shows_identifier_page(flow.client.get(answer.headers["Location"]))


def test_authorize_answering_with_the_vote_code_step_begins_no_transaction(app, backend, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)  # signed in at the password level
    params, _ = flow.request_params(rp, acr_values=ACR_VOTE_CODE)
    with recording(app) as recorded:
        page = flow.client.get("/authorize?" + urlencode(params))
    assert shows_vote_code_page(page)
    assert recorded.begins == READ_BEGINS[backend.name], recorded
    # The vote-code page's own GET (the step asked directly) reads the voter outside any transaction too.
    with recording(app) as direct:
        again = flow.client.get("/login/vote-code?next=/")
    assert shows_vote_code_page(again)
    assert direct.begins == READ_BEGINS[backend.name], direct


def test_authorize_issuing_a_code_writes_it_in_one_committed_transaction(app, backend, flow, rp, voters):
    voter = voters.create()
    flow.tokens(rp, voter)  # signed in: the next request is answered with a code at once
    params, verifier = flow.request_params(rp)
    with recording(app) as recorded:
        answer = flow.client.get("/authorize?" + urlencode(params))
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri + "?")
    # PostgreSQL: the write transaction alone. SQLite: the reads' deferred transaction, then the writer's.
    assert recorded.begins == ISSUE_BEGINS[backend.name], recorded
    assert sum(s.startswith("BEGIN IMMEDIATE") for s in recorded.inside) == (backend.name == "sqlite")
    # The code (with its audit event) and the client session in that one transaction; the reads before it outside.
    assert recorded.inside_touching("INSERT INTO oidc_authorization_code")
    assert recorded.inside_touching("oidc_client_session")
    if backend.name == "postgresql":
        assert not any("INSERT" in s for s in recorded.outside), recorded.outside
    query = query_of(answer.headers["Location"])
    assert query["state"] == params["state"]
    token = flow.client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        },
        headers=flow.auth_headers(rp),
    )
    assert token.status_code == 200, token.get_data(as_text=True)  # the code was committed


def client_sessions(app: Flask) -> int:
    with get_db(app).transaction() as session:
        return int(session.execute(select(func.count()).select_from(CLIENT_SESSIONS)).scalar_one())


def test_a_code_that_fails_after_its_client_session_leaves_nothing(app, flow, rp, voters, monkeypatch):
    voter = voters.create()
    flow.auth.login(voter.identifier)  # signed in, no client session yet: the next request inserts one
    before = client_sessions(app)

    def broken(self: Any, code: str, request: Any) -> None:
        raise RuntimeError("the code could not be saved")

    monkeypatch.setattr(grants.AuthorizationCodeGrant, "save_authorization_code", broken)
    params, _ = flow.request_params(rp)
    with recording(app) as recorded:
        try:
            answer = flow.client.get("/authorize?" + urlencode(params))
        except RuntimeError:
            pass
        else:
            assert answer.status_code == 500
    assert recorded.inside_touching("INSERT INTO oidc_client_session"), "the client session was written..."
    assert client_sessions(app) == before, "... and rolled back with the code that failed"
    monkeypatch.undo()
    assert flow.authorize(rp, voter).code, "the same request succeeds once the code can be saved"
