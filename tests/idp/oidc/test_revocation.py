"""Token revocation (RFC 7009): access and refresh tokens; a refresh token takes its grant's access tokens with it."""

from __future__ import annotations

from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent
from tests.oidc_helpers import make_client

pytest_plugins = ["tests.oidc_fixtures"]


def revoke(flow, rp, token, **extra):
    return flow.client.post(
        "/revoke", data=flow.authenticate(rp, {"token": token, **extra}), headers=flow.auth_headers(rp)
    )


def userinfo_status(flow, access_token):
    return flow.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_revoking_an_access_token(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = revoke(flow, rp, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert userinfo_status(flow, tokens["access_token"]) == 401
    # The refresh token is not affected by revoking one access token.
    assert flow.refresh(rp, tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_revokes_the_grant(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    assert revoke(flow, rp, tokens["refresh_token"]).status_code == 200
    assert userinfo_status(flow, tokens["access_token"]) == 401
    assert flow.refresh(rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_unknown_token_answers_200(flow, rp):
    assert revoke(flow, rp, "never-issued").status_code == 200


def test_token_of_another_client_is_left_alone(app, flow, rp, voters):
    other = make_client(app)
    tokens = flow.tokens(rp, voters.create())
    assert revoke(flow, other, tokens["access_token"]).status_code == 200
    assert userinfo_status(flow, tokens["access_token"]) == 200


def test_public_client_revokes_with_its_client_id(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    tokens = flow.tokens(rp, voters.create())
    assert revoke(flow, rp, tokens["refresh_token"]).status_code == 200
    assert userinfo_status(flow, tokens["access_token"]) == 401


def test_revocation_requires_client_authentication(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post("/revoke", data={"token": tokens["access_token"]})
    assert response.get_json()["error"] == "invalid_client"
    assert userinfo_status(flow, tokens["access_token"]) == 200


def test_missing_token_parameter(flow, rp):
    response = flow.client.post("/revoke", data={}, headers=flow.auth_headers(rp))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_revocation_is_audited_without_the_token(app, flow, rp, voters):
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    revoke(flow, rp, tokens["access_token"])
    with app.app_context(), get_db(app).transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "token.revoked")).scalar_one()
    assert event.subject == voter.subject and event.client_id == rp.client_id
    assert '"jti"' in event.data and tokens["access_token"] not in event.data
