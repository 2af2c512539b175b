"""The signed-in voter is read once per request: the check that the session is still valid (its voter exists, its
``session_epoch`` has not moved on) hands the voter it read to the caller, which used to read it a second time
(the request session's identity map holds objects weakly, so a voter nobody kept was fetched again). Counted with
SQLAlchemy's ``before_cursor_execute`` event on the steps of a voter's journey that run while signed in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import event

from idp.auth.state import ACR_VOTE_CODE
from idp.db import get_db
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import TEST_CAPTCHA, captcha_id_of, csrf_of

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
    voter = voters.create()
    response, _, _ = flow.start(rp)
    flow.client.get(response.headers["Location"])  # the sign-in page, which remembers where to resume
    signed_in = flow.auth.login(voter.identifier)
    assert signed_in.status_code == 302 and urlsplit(signed_in.headers["Location"]).path == "/authorize/resume"
    with voter_reads(app) as reads:
        resumed = flow.client.get(signed_in.headers["Location"])
    assert resumed.status_code == 302 and resumed.headers["Location"].startswith(rp.redirect_uri)
    assert "code=" in resumed.headers["Location"]
    assert len(reads) == 1, reads


def test_the_vote_code_step_reads_the_voter_once_per_request(app, flow, rp, voters):
    voter = voters.create()
    with app.app_context(), get_db(app).transaction() as session:
        code = issue_code(session, session.get(Voter, voter.id), "notice", hasher=keyed_hasher())
    flow.tokens(rp, voter)  # signed in at the password level
    with voter_reads(app) as reads:
        response, _, _ = flow.start(rp, acr_values=ACR_VOTE_CODE)
    location = response.headers["Location"]
    assert response.status_code == 302 and urlsplit(location).path == "/login/vote-code"
    assert len(reads) == 1, reads
    with voter_reads(app) as reads:
        page = flow.client.get(location)
    assert page.status_code == 200 and "Saisie du code de vote" in page.get_data(as_text=True)
    assert len(reads) == 1, reads
    form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "code": code, "captcha": TEST_CAPTCHA}
    with voter_reads(app) as reads:
        passed = flow.client.post(location, data=form)
    assert passed.status_code == 302 and urlsplit(passed.headers["Location"]).path == "/authorize/resume"
    assert len(reads) == 1, reads
    with voter_reads(app) as reads:
        resumed = flow.client.get(passed.headers["Location"])
    assert resumed.status_code == 302 and "code=" in resumed.headers["Location"]
    assert len(reads) == 1, reads
