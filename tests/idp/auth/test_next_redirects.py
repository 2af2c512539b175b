"""``next`` on the IdP's sign-in and vote-code screens: a table of hostile values never leads a browser off the
origin and never reaches a 500, anonymous or signed in, at every step that redirects to it (issue: ``/%09/`` in
``next`` sent a signed-in voter to another site once the browser dropped the tab)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.db import get_db
from idp.models import Voter
from idp.votecode.service import issue_code
from idp.web import keyed_hasher
from tests.helpers import TEST_CAPTCHA, AuthActions, VoterFactory, captcha_id_of, csrf_of
from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin

ORIGIN = "http://localhost"


def test_next_of_the_sign_in_never_leads_off_the_origin(app: Flask, voters: VoterFactory) -> None:
    voter = voters.create()
    for value in HOSTILE_LOCATIONS:
        client = app.test_client()
        page = client.get("/login", query_string={"next": value})
        assert page.status_code == 200, repr(value)
        done = AuthActions(client).login(voter.identifier)
        assert_stays_on_origin(done, f"{ORIGIN}/login/password", value=value)
        assert done.status_code == 302 and done.headers["Location"] == "/", (value, done.headers["Location"])


def test_a_safe_next_is_still_followed_after_the_sign_in(app: Flask, voters: VoterFactory) -> None:
    voter = voters.create()
    client = app.test_client()
    client.get("/login", query_string={"next": "/authorize?tx=abc"})
    done = AuthActions(client).login(voter.identifier)
    assert done.headers["Location"] == "/authorize?tx=abc"


def _vote_code_of(app: Flask, identifier: str) -> str:
    with app.app_context(), get_db(app).transaction() as session:
        voter = session.execute(select(Voter).where(Voter.identifier == identifier)).scalar_one()
        return issue_code(session, voter, "notice", hasher=keyed_hasher())


def test_next_of_the_vote_code_step_never_leads_off_the_origin(
    app: Flask, client: FlaskClient, voters: VoterFactory, auth: AuthActions
) -> None:
    voter = voters.create()
    code = _vote_code_of(app, voter.identifier)
    for value in HOSTILE_LOCATIONS:
        anonymous = app.test_client().get("/login/vote-code", query_string={"next": value})
        assert_stays_on_origin(anonymous, f"{ORIGIN}/login/vote-code", value=value)
        assert anonymous.status_code == 302
    assert auth.login(voter.identifier).status_code == 302
    for value in HOSTILE_LOCATIONS:
        page = client.get("/login/vote-code", query_string={"next": value})
        assert page.status_code == 200, repr(value)
        form = {"csrf_token": csrf_of(page), "captcha_id": captcha_id_of(page), "captcha": TEST_CAPTCHA, "code": code}
        done = client.post("/login/vote-code", query_string={"next": value}, data=form)
        assert_stays_on_origin(done, f"{ORIGIN}/login/vote-code", value=value)
        assert done.status_code == 302 and done.headers["Location"] == "/", (value, done.headers["Location"])
