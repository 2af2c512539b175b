"""``private_key_jwt``: the assertion's ``aud`` is the issuer identifier as a single string, and nothing else
(the 2025 audience-confusion guidance for RFC 7523 client authentication). An array that contains the issuer, or
the URL of an endpoint, could have been minted for another server that shares an endpoint URL or that lists
several audiences: refused with ``invalid_client`` at the token, introspection and revocation endpoints."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from joserfc import jwt

from tests.oidc_helpers import ISSUER, RP, make_client

pytest_plugins = ["tests.oidc_fixtures"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

REFUSED_AUDIENCES: list[Any] = [
    [ISSUER, "http://evil.example"],
    [ISSUER],
    f"{ISSUER}/token",
    [f"{ISSUER}/token"],
    f"{ISSUER}/introspect",
    f"{ISSUER}/revoke",
    f"{ISSUER}/",
    ISSUER.upper(),
    "http://evil.example",
    "",
    None,
    42,
    {"aud": ISSUER},
]


def assertion(rp: RP, audience: Any) -> str:
    assert rp.private_key is not None
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode({"alg": "ES256", "kid": rp.private_key.kid}, claims, rp.private_key)


def post(flow, path: str, rp: RP, audience: Any, **data: str):
    return flow.client.post(
        path, data={**data, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion(rp, audience)}
    )


def test_the_issuer_as_a_single_string_is_accepted(app, flow, voters) -> None:
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    authorization = flow.authorize(rp, voters.create())
    response = post(
        flow,
        "/token",
        rp,
        ISSUER,
        grant_type="authorization_code",
        code=authorization.code,
        redirect_uri=rp.redirect_uri,
        code_verifier=authorization.verifier,
    )
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["access_token"]
    assert post(flow, "/introspect", rp, ISSUER, token=token).get_json()["active"] is True
    assert post(flow, "/revoke", rp, ISSUER, token=token).status_code == 200


@pytest.mark.parametrize("audience", REFUSED_AUDIENCES, ids=repr)
def test_any_other_audience_is_refused_everywhere(app, flow, voters, audience) -> None:
    rp = make_client(app, token_endpoint_auth_method="private_key_jwt")
    authorization = flow.authorize(rp, voters.create())
    code = {
        "grant_type": "authorization_code",
        "code": authorization.code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": authorization.verifier,
    }
    for path, data in (("/token", code), ("/introspect", {"token": "x"}), ("/revoke", {"token": "x"})):
        response = post(flow, path, rp, audience, **data)
        assert response.status_code == 401, (path, response.status_code, response.get_data(as_text=True))
        assert response.get_json()["error"] == "invalid_client", path
    # The code was not spent by the refused attempts: the right assertion still gets the tokens.
    assert post(flow, "/token", rp, ISSUER, **code).status_code == 200
