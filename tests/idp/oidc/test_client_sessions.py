"""The per-client sessions (``sid``) of an IdP session: one row per browser session and client, created by the first
authorization. A browser session that gets its IdP session identifier in this request inserts the row without
looking for it first; an older one looks, and two authorizations at the same instant end with one row."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask
from flask import session as browser_session
from sqlalchemy import event, func, select, update

from idp.db import get_db
from idp.oidc import sessions
from idp.oidc.clients import find
from idp.oidc.models import OidcClientSession
from tests.oidc_helpers import make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def test_the_first_authorization_inserts_the_client_session_without_reading_it(app, flow, rp, voters):
    voter = voters.create()
    statements: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        first = flow.tokens(rp, voter)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    touching = [s for s in statements if "oidc_client_session" in s]
    assert len([s for s in touching if s.startswith("INSERT")]) == 1, touching
    assert not [s for s in touching if s.startswith("SELECT")], touching
    assert not [s for s in statements if "SAVEPOINT" in s], statements

    # Same browser, same client: the same sid; another client: its own.
    again = flow.tokens(rp, voter)
    assert verify(flow.client, again["id_token"])["sid"] == verify(flow.client, first["id_token"])["sid"]
    other_rp = make_client(app, client_name="Autre application", redirect_uris=["https://autre.example.fr/retour"])
    other = flow.tokens(other_rp, voter)
    assert verify(flow.client, other["id_token"])["sid"] != verify(flow.client, first["id_token"])["sid"]
    with app.app_context(), get_db(app).transaction() as session:
        assert session.scalar(select(func.count()).select_from(OidcClientSession)) == 2


def test_two_authorizations_at_the_same_instant_share_one_client_session(app: Flask, rp, voters):
    voter = voters.create()
    op_session = "an-idp-session-identifier-0123456789"
    first_flushed = threading.Event()
    sids: dict[str, str] = {}
    errors: list[BaseException] = []

    def authorize(name: str) -> None:
        try:
            with app.test_request_context("/authorize/resume"):
                browser_session["oidc_op_session"] = op_session
                with get_db(app).transaction() as session:
                    client = find(session, rp.client_id)
                    assert client is not None
                    sids[name] = sessions.client_session(session, client, voter.id, "pairwise-subject")
                    session.flush()
                    if name == "first":
                        first_flushed.set()
                        time.sleep(0.5)  # the second one is now waiting on this row (or on the write lock)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    first = threading.Thread(target=authorize, args=("first",))
    first.start()
    assert first_flushed.wait(10)
    second = threading.Thread(target=authorize, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    assert errors == []
    assert sids["first"] == sids["second"]
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.scalars(select(OidcClientSession)).all()
    assert [(row.sid, row.op_session) for row in rows] == [(sids["first"], sessions.op_ref(op_session))]


def test_a_client_session_ended_while_the_idp_session_lives_on_gets_a_new_sid(app, flow, rp, voters):
    """The row is found ended (its tokens revoked, the client told): the next authorization of that browser at that
    client gives it a new sid, in the same row, live again."""
    voter = voters.create()
    first = verify(flow.client, flow.tokens(rp, voter)["id_token"])["sid"]
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(update(OidcClientSession).values(ended_at=func.now()))
    again = verify(flow.client, flow.tokens(rp, voter)["id_token"])["sid"]
    assert again != first
    with app.app_context(), get_db(app).transaction() as session:
        rows = session.execute(select(OidcClientSession.sid, OidcClientSession.ended_at)).all()
    assert [tuple(row) for row in rows] == [(again, None)]
    # And kept from then on.
    assert verify(flow.client, flow.tokens(rp, voter)["id_token"])["sid"] == again
