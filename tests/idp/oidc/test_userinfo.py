"""Userinfo (conformance: oidcc-userinfo-get, oidcc-userinfo-post-header, oidcc-userinfo-post-body,
oidcc-scope-profile, oidcc-scope-email, oidcc-scope-all, signed userinfo): claims by scope, JSON or signed JWT."""

from __future__ import annotations

from tests.oidc_helpers import ISSUER, header_of, make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def test_userinfo_get_with_header(flow, rp, voters):
    voter = voters.create(first_names="Camille Andrée", family_name="TESTEUR", gender="F")
    tokens = flow.tokens(rp, voter)
    response = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "sub": voter.subject,
        "given_name": "Camille Andrée",
        "family_name": "TESTEUR",
        "name": "Camille Andrée TESTEUR",
        "gender": "female",
        "birthdate": "1985-07-21",
        "email": voter.identifier,
        "email_verified": True,
        "academie": "exemple",
    }


def test_userinfo_post_with_header(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200 and "email" in response.get_json()


def test_userinfo_post_with_token_in_body(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200 and "email" in response.get_json()


def test_token_in_header_and_body_is_refused(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post(
        "/userinfo",
        data={"access_token": tokens["access_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_claims_follow_the_scope(flow, rp, voters):
    voter = voters.create()
    tokens = flow.tokens(rp, voter, scope="openid email")
    claims = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert claims == {"sub": voter.subject, "email": voter.identifier, "email_verified": True}
    tokens = flow.tokens(rp, voter, scope="openid")
    claims = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert claims == {"sub": voter.subject}


def test_userinfo_sub_matches_the_id_token_for_pairwise_clients(app, flow, voters):
    rp = make_client(app, first_party=False)
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    claims = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert claims["sub"] == verify(flow.client, tokens["id_token"])["sub"] != voter.subject


def test_signed_userinfo(app, flow, voters):
    rp = make_client(app, userinfo_signed_response_alg="RS256")
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    response = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200
    assert response.mimetype == "application/jwt"
    token = response.get_data(as_text=True)
    header = header_of(token)
    assert header["alg"] == "RS256" and header["kid"]
    claims = verify(flow.client, token, ["RS256"])
    assert claims["iss"] == ISSUER and claims["aud"] == rp.client_id
    assert claims["sub"] == voter.subject and claims["email"] == voter.identifier


def test_invalid_token_answers_401_with_www_authenticate(flow):
    response = flow.client.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_token_answers_401(flow):
    response = flow.client.get("/userinfo")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_refresh_token_is_not_an_access_token(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert response.status_code == 401


def test_token_of_a_disabled_client_stops_working(app, flow, rp, voters):
    from idp.db import get_db
    from idp.oidc import clients

    tokens = flow.tokens(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        clients.disable(session, clients.find(session, rp.client_id))
    response = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401
