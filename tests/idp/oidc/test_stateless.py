"""Stateless web processes: two IdP applications sharing the database and the ephemeral store serve one voter —
the sign-in on one is seen by the other, a code issued by one is redeemed at the other, and so on."""

from __future__ import annotations

import pytest

from idp import create_app
from idp.db import get_db
from tests.helpers import DEFAULT_PASSWORD, AuthActions
from tests.oidc_helpers import Authorization, Flow, query_of, shows_identifier_page, verify

pytest_plugins = ["tests.oidc_fixtures"]


@pytest.fixture
def second_app(app_config, app):
    other = create_app(app_config)
    yield other
    get_db(other).dispose()


def test_code_issued_by_one_instance_is_redeemed_at_the_other(app, second_app, flow, rp, voters):
    voter = voters.create()
    client_b = second_app.test_client()
    flow_b = Flow(second_app, client_b, AuthActions(client_b))
    # Authorization request starts on A; the voter gives the identifier on A.
    response, params, verifier = flow.start(rp)
    assert shows_identifier_page(response)  # the login page on A, in the authorization request's answer
    assert flow.auth.submit_identifier(voter.identifier).status_code == 302
    # The password is posted to B, with the same cookie: B signs in and resumes A's request in its answer.
    cookie = flow.client.get_cookie("idp_session")
    client_b.set_cookie("idp_session", cookie.value, domain=cookie.domain or "localhost")
    resumed = AuthActions(client_b).submit_password(DEFAULT_PASSWORD)
    assert resumed.status_code == 302, resumed.get_data(as_text=True)[:300]
    assert resumed.headers["Location"].startswith(rp.redirect_uri)
    query = query_of(resumed.headers["Location"])
    assert query["state"] == params["state"]
    # The code is redeemed at A; userinfo answered by B; refresh at B; introspection at A.
    tokens = flow.exchange(rp, Authorization(resumed, query, verifier, params)).get_json()
    assert verify(client_b, tokens["id_token"])["sub"] == voter.subject
    userinfo = client_b.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    refreshed = flow_b.refresh(rp, tokens["refresh_token"])
    assert refreshed.status_code == 200
    # The rotated token is recognised as reused by A as well.
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_code_reuse_is_detected_across_instances(app, second_app, flow, rp, voters):
    client_b = second_app.test_client()
    flow_b = Flow(second_app, client_b, AuthActions(client_b))
    authorization = flow.authorize(rp, voters.create())
    assert flow_b.exchange(rp, authorization).status_code == 200
    assert flow.exchange(rp, authorization).get_json()["error"] == "invalid_grant"


def test_sign_in_on_one_instance_is_seen_by_the_other(app, second_app, flow, rp, voters):
    voter = voters.create()
    flow.auth.login(voter.identifier)
    client_b = second_app.test_client()
    cookie = flow.client.get_cookie("idp_session")
    client_b.set_cookie("idp_session", cookie.value, domain=cookie.domain or "localhost")
    flow_b = Flow(second_app, client_b, AuthActions(client_b))
    response, _, _ = flow_b.start(rp, prompt="none")
    assert "code" in query_of(response.headers["Location"])
