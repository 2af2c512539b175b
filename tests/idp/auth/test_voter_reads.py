"""The signed-in voter is read once per request: the check that the session is still valid (its voter exists, its
``session_epoch`` has not moved on) hands the voter it read to the caller, which used to read it a second time
(the request session's identity map holds objects weakly, so a voter nobody kept was fetched again). Counted with
SQLAlchemy's ``before_cursor_execute`` event on the steps of a voter's journey that run while signed in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import event

from idp.auth.state import ACR_VOTE_CODE
from idp.db import get_db
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, captcha_id_of, csrf_of
from tests.oidc_helpers import shows_identifier_page, shows_vote_code_page, vote_code_action

pytest_plugins = ["tests.oidc_fixtures"]


@contextlib.contextmanager
def voter_reads(app: Flask) -> Iterator[list[str]]:
    """The statements reading the ``voter`` table while the block runs."""
    engine = get_db(app).engine
    found: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM voter" in statement:
            found.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_resuming_an_authorization_reads_the_voter_once(app, flow, rp, voters):
    """The password POST finds the voter by identifier, then resumes the authorization request in its own answer
    (the redirect to the client with the code): the voter it found is the one the session check uses."""
    voter = voters.create()
    response, _, _ = flow.start(rp)
    assert shows_identifier_page(response)  # the sign-in page, which remembers where to resume
    assert flow.auth.submit_identifier(voter.identifier).status_code == 302
    page = flow.client.get("/login/password")
    with voter_reads(app) as reads:
        form = {"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD}
        signed_in = flow.client.post("/login/password", data=form)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].startswith(rp.redirect_uri)
    assert "code=" in signed_in.headers["Location"]
    assert len(reads) == 1, reads


def test_the_vote_code_step_reads_the_voter_once_per_request(app, flow, rp, voters):
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    flow.tokens(rp, voter)  # signed in at the password level
    with voter_reads(app) as reads:
        page, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    # The authorization request answered with the vote-code page: one read for the session check and the page.
    assert shows_vote_code_page(page)
    assert len(reads) == 1, reads
    location = vote_code_action(page)
    with voter_reads(app) as reads:
        again = flow.client.get(location)  # the page at its own address (« Afficher un autre CAPTCHA »)
    assert shows_vote_code_page(again)
    assert len(reads) == 1, reads
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA}
    with voter_reads(app) as reads:
        passed = flow.client.post(location, data=form)
    # The authorization request resumed in the POST's answer: straight to the client, with the code.
    assert passed.status_code == 302 and passed.headers["Location"].startswith(rp.redirect_uri)
    assert "code=" in passed.headers["Location"]
    assert len(reads) == 1, reads
