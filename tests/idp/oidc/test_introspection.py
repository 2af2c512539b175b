"""Token introspection (RFC 7662): client-authenticated; ``active: false`` for anything not live and owned."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcToken
from tests.oidc_helpers import ISSUER, make_client

pytest_plugins = ["tests.oidc_fixtures"]


def introspect(flow, rp, token, **extra):
    data = flow.authenticate(rp, {"token": token, **extra})
    return flow.client.post("/introspect", data=data, headers=flow.auth_headers(rp))


def test_active_access_token(flow, rp, voters):
    voter = voters.create()
    tokens = flow.tokens(rp, voter)
    response = introspect(flow, rp, tokens["access_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["active"] is True
    assert body["client_id"] == rp.client_id and body["sub"] == voter.subject and body["iss"] == ISSUER
    assert body["token_type"] == "Bearer" and body["scope"] == tokens["scope"]
    assert body["exp"] > body["iat"] and body["jti"]
    assert body["acr"] == "urn:portail-elections:acr:password"


def test_active_refresh_token(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    body = introspect(flow, rp, tokens["refresh_token"], token_type_hint="refresh_token").get_json()
    assert body["active"] is True and "token_type" not in body


def test_unknown_expired_revoked_and_foreign_tokens_are_inactive(app, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    assert introspect(flow, rp, "unknown-token").get_json() == {"active": False}
    other = make_client(app)
    assert introspect(flow, other, tokens["access_token"]).get_json() == {"active": False}
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcToken)
            .where(OidcToken.kind == "access")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert introspect(flow, rp, tokens["access_token"]).get_json() == {"active": False}
    flow.client.post("/revoke", data={"token": tokens["refresh_token"]}, headers=flow.auth_headers(rp))
    assert introspect(flow, rp, tokens["refresh_token"]).get_json() == {"active": False}


def test_unknown_token_type_hint_is_ignored(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    assert introspect(flow, rp, tokens["access_token"], token_type_hint="magic").get_json()["active"] is True


def test_introspection_requires_client_authentication(flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    response = flow.client.post("/introspect", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_public_client_cannot_introspect(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    tokens = flow.tokens(rp, voters.create())
    response = introspect(flow, rp, tokens["access_token"])
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt_client_introspects(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    tokens = flow.tokens(rp, voters.create())
    assert introspect(flow, rp, tokens["access_token"]).get_json()["active"] is True


def test_introspection_is_audited_without_the_token(app, flow, rp, voters):
    tokens = flow.tokens(rp, voters.create())
    introspect(flow, rp, tokens["access_token"])
    with app.app_context(), get_db(app).transaction() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.type == "token.introspected")).scalar_one()
    assert '"active":true' in event.data and tokens["access_token"] not in event.data
