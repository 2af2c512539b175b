""" "All sessions of that voter end": ``end_all_sessions`` moves the voter's epoch on, and every reader of the
signed-in state (``current_authentication``) then treats the older sessions as signed out."""

from __future__ import annotations

from sqlalchemy import select

from idp.auth.state import current_authentication
from idp.db import get_db
from idp.models import AuditEvent, Voter
from idp.plugin_api import end_all_sessions
from tests.helpers import AuthActions, csrf_of

pytest_plugins = ["tests.oidc_fixtures"]


def end_sessions(app, voter) -> int:
    with app.app_context(), get_db(app).transaction() as session:
        row = session.get(Voter, voter.id)
        end_all_sessions(session, row)
        end_all_sessions(session, row)  # each call counts: the increment is done by the database
        return row.session_epoch


def test_sessions_signed_in_before_are_signed_out_everywhere(app, client, voters, auth):
    voter = voters.create()
    assert auth.login(voter.identifier).status_code == 302
    assert client.get("/").status_code == 200
    with app.test_request_context():
        assert current_authentication() is None  # no session in a bare request

    assert end_sessions(app, voter) == 2

    assert client.get("/").headers["Location"] == "/login"
    assert client.get("/login/vote-code").headers["Location"].startswith("/login?")
    page = client.get("/logout")
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    with get_db(app).transaction() as session:  # nobody was signed in any more: no "logout" of that session
        assert session.execute(select(AuditEvent).where(AuditEvent.type == "logout")).first() is None


def test_a_new_sign_in_after_the_end_works(app, client, voters, auth):
    voter = voters.create()
    auth.login(voter.identifier)
    end_sessions(app, voter)
    other = app.test_client()
    assert AuthActions(other).login(voter.identifier).status_code == 302
    assert other.get("/").status_code == 200
    assert client.get("/").status_code == 302


def test_client_applications_lose_their_tokens_and_are_told(app, flow, voters, client, logout_receiver):
    """A password réassort ends the sessions at the client applications too: tokens revoked, back-channel sent."""
    from idp.oidc.backchannel import LogoutNotifier
    from tests.oidc_helpers import make_client, verify

    voter = voters.create()
    rp = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    tokens = flow.tokens(rp, voter)
    end_sessions(app, voter)
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/userinfo", headers=bearer).status_code == 401
    assert LogoutNotifier(app).drain() == 1
    claims = verify(client, logout_receiver.received[0]["logout_token"][0])
    assert claims["sid"] == verify(client, tokens["id_token"])["sid"]
