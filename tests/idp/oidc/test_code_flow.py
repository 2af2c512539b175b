"""The authorization code flow end to end (conformance: oidcc-server, oidcc-codereuse, oidcc-codereuse-30seconds,
oidcc-ensure-redirect-uri-in-authorization-request, oidcc-server-client-secret-post, private_key_jwt and public
clients): sign-in through the real screens, the code, the token endpoint, the ID token verified against the JWKS.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, update

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcAuthorizationCode, OidcToken
from tests.oidc_helpers import ISSUER, header_of, make_client, verify

pytest_plugins = ["tests.oidc_fixtures"]


def test_code_flow_issues_verified_id_token(flow, rp, voters):
    voter = voters.create()
    authorization = flow.authorize(rp, voter)
    assert authorization.params["state"] == authorization.sent["state"]
    assert authorization.params["iss"] == ISSUER
    response = flow.exchange(rp, authorization)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert set(body["scope"].split()) == {"openid", "profile", "email", "academie"}
    assert response.headers["Cache-Control"] == "no-store"
    claims = verify(flow.client, body["id_token"])
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id
    assert claims["sub"] == voter.subject  # first-party: public subject
    assert claims["nonce"] == authorization.sent["nonce"]
    assert claims["acr"] == "urn:portail-elections:acr:password"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"]
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["auth_time"] - claims["iat"]) < 30
    header = header_of(body["id_token"])
    assert header["alg"] == "ES256" and header["kid"] and header["typ"] == "JWT"


def test_at_hash_matches_the_access_token(flow, rp, voters):
    import base64
    import hashlib

    body = flow.tokens(rp, voters.create())
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert verify(flow.client, body["id_token"])["at_hash"] == expected


def test_rs256_client_gets_rs256_id_token(app, flow, voters):
    rp = make_client(app, id_token_signed_response_alg="RS256")
    body = flow.tokens(rp, voters.create())
    assert header_of(body["id_token"])["alg"] == "RS256"
    assert verify(flow.client, body["id_token"], ["RS256"])["aud"] == rp.client_id


def test_client_secret_post(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="client_secret_post")
    assert "access_token" in flow.tokens(rp, voters.create())


def test_client_secret_post_client_cannot_use_basic(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="client_secret_post")
    authorization = flow.authorize(rp, voters.create())
    data = {
        "grant_type": "authorization_code",
        "code": authorization.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": authorization.verifier,
    }
    response = flow.client.post("/token", data=data, headers=flow.auth_headers(rp, method="client_secret_basic"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_private_key_jwt(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    body = flow.tokens(rp, voters.create())
    assert verify(flow.client, body["id_token"])["aud"] == rp.client_id


def test_private_key_jwt_assertion_is_single_use(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    voter = voters.create()
    assertion = flow.assertion(rp, jti="the-same-jti")
    first = flow.authorize(rp, voter)
    data = {
        "grant_type": "authorization_code",
        "code": first.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": first.verifier,
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    assert flow.client.post("/token", data=data).status_code == 200
    second = flow.authorize(rp, voter)
    data.update(code=second.code, code_verifier=second.verifier)
    replay = flow.client.post("/token", data=data)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_client"


def test_private_key_jwt_with_the_wrong_key_is_refused(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    other = make_client(app, token_endpoint_auth_method="private_key_jwt")
    rp.private_key = other.private_key
    authorization = flow.authorize(rp, voters.create())
    response = flow.exchange(rp, authorization)
    assert response.get_json()["error"] == "invalid_client"


def test_public_client_with_pkce(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    assert rp.secret is None
    body = flow.tokens(rp, voters.create())
    assert verify(flow.client, body["id_token"])["aud"] == rp.client_id
    assert "refresh_token" in body


def test_public_client_without_verifier_is_refused(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    authorization = flow.authorize(rp, voters.create())
    response = flow.token_request(
        rp, {"grant_type": "authorization_code", "code": authorization.code, "redirect_uri": rp.redirect_uri}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_wrong_code_verifier_is_invalid_grant(flow, rp, voters):
    authorization = flow.authorize(rp, voters.create())
    authorization.verifier = "x" * 50
    response = flow.exchange(rp, authorization)
    assert response.get_json()["error"] == "invalid_grant"


def test_confidential_client_may_omit_pkce(flow, rp, voters):
    authorization = flow.authorize(rp, voters.create(), code_challenge=None, code_challenge_method=None)
    response = flow.token_request(
        rp, {"grant_type": "authorization_code", "code": authorization.code, "redirect_uri": rp.redirect_uri}
    )
    assert response.status_code == 200


def test_verifier_without_challenge_is_refused(flow, rp, voters):
    """RFC 9700 4.8: a code_verifier for a code requested without code_challenge is an attack indicator."""
    authorization = flow.authorize(rp, voters.create(), code_challenge=None, code_challenge_method=None)
    response = flow.exchange(rp, authorization)
    assert response.get_json()["error"] == "invalid_request"


def test_redirect_uri_must_match_the_authorization_request(app, flow, voters):
    rp = make_client(app, redirect_uris=["https://rp.example.fr/callback", "https://rp.example.fr/other"])
    authorization = flow.authorize(rp, voters.create())
    response = flow.exchange(rp, authorization, redirect_uri="https://rp.example.fr/other")
    assert response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused_and_stays_usable(app, flow, rp, voters):
    other = make_client(app)
    authorization = flow.authorize(rp, voters.create())
    stolen = flow.exchange(other, authorization, redirect_uri=rp.redirect_uri)
    assert stolen.get_json()["error"] == "invalid_grant"
    assert flow.exchange(rp, authorization).status_code == 200


def test_code_reuse_is_refused_and_revokes_its_tokens(app, flow, rp, voters):
    authorization = flow.authorize(rp, voters.create())
    first = flow.exchange(rp, authorization)
    assert first.status_code == 200
    access_token = first.get_json()["access_token"]
    assert flow.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code == 200
    second = flow.exchange(rp, authorization)
    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"
    userinfo = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert userinfo.status_code == 401
    with app.app_context(), get_db(app).transaction() as session:
        tokens = session.execute(select(OidcToken)).scalars().all()
        assert tokens and all(t.revoked_at is not None for t in tokens)
        types = set(session.execute(select(AuditEvent.type)).scalars())
    assert {"oidc.code_reused", "token.revoked"} <= types


def test_expired_code_is_invalid_grant(app, flow, rp, voters):
    authorization = flow.authorize(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        session.execute(
            update(OidcAuthorizationCode).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert flow.exchange(rp, authorization).get_json()["error"] == "invalid_grant"


def test_codes_live_under_a_minute_and_are_stored_hashed(app, flow, rp, voters):
    authorization = flow.authorize(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        row = session.execute(select(OidcAuthorizationCode)).scalar_one()
        assert (row.expires_at - row.created_at).total_seconds() < 60
        assert authorization.code.encode() not in row.code_hash and len(row.code_hash) == 32


def test_tokens_are_stored_hashed(app, flow, rp, voters):
    body = flow.tokens(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        hashes = session.execute(select(OidcToken.token_hash)).scalars().all()
    assert len(hashes) == 2
    assert all(body["access_token"].encode() not in h and body["refresh_token"].encode() not in h for h in hashes)


def test_client_without_refresh_grant_gets_no_refresh_token(app, flow, voters):
    rp = make_client(app, grant_types=["authorization_code"])
    body = flow.tokens(rp, voters.create())
    assert "refresh_token" not in body


@pytest.mark.parametrize("scope", ["openid", "openid email"])
def test_scope_of_the_tokens_is_what_was_granted(flow, rp, voters, scope):
    body = flow.tokens(rp, voters.create(), scope=scope)
    assert body["scope"] == scope


def test_disabled_client_cannot_redeem(app, flow, rp, voters):
    from idp.oidc import clients

    authorization = flow.authorize(rp, voters.create())
    with app.app_context(), get_db(app).transaction() as session:
        client = clients.find(session, rp.client_id)
        assert client is not None
        clients.disable(session, client)
    response = flow.exchange(rp, authorization)
    assert response.get_json()["error"] == "invalid_client"


def test_parallel_redemptions_of_one_code_give_one_token_response_then_revoke_it(app, flow, rp, voters):
    """Eight clients' requests at once with one code (a double submit, a stolen code raced): exactly one gets
    tokens, the others ``invalid_grant``; each refusal revokes the grant, committed although it answers an error,
    after the winner's commit, so the winner's tokens end revoked (RFC 6749 4.1.2)."""
    authorization = flow.authorize(rp, voters.create())
    data = flow.authenticate(
        rp,
        {
            "grant_type": "authorization_code",
            "code": authorization.code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": authorization.verifier,
        },
    )
    headers = flow.auth_headers(rp)
    start = threading.Barrier(8)

    def redeem(_: int) -> tuple[int, dict[str, Any]]:
        client = app.test_client()
        start.wait(timeout=30)
        answer = client.post("/token", data=data, headers=headers)
        return answer.status_code, answer.get_json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(redeem, range(8)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [400] * 7
    assert all(body["error"] == "invalid_grant" for status, body in answers if status == 400)
    winner = next(body for status, body in answers if status == 200)
    assert (
        flow.client.get("/userinfo", headers={"Authorization": f"Bearer {winner['access_token']}"}).status_code == 401
    )
    with app.app_context(), get_db(app).transaction() as session:
        tokens = session.execute(select(OidcToken).where(OidcToken.client_id == rp.client_id)).scalars().all()
        types = list(session.execute(select(AuditEvent.type).where(AuditEvent.client_id == rp.client_id)).scalars())
    assert len(tokens) == 2 and all(t.revoked_at is not None for t in tokens)
    assert types.count("token.issued") == 1 and types.count("oidc.code_reused") == 7
