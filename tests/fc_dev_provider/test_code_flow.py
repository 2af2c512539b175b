"""The whole authorization code flow over HTTP, tokens verified against the published JWKS."""

from __future__ import annotations

import pytest
from authlib.oidc.core.util import create_half_hash
from flask.testing import FlaskClient

from tests.fc_dev_provider.helpers import CLIENT_A, ISSUER, FcActions, query_of


@pytest.mark.parametrize("method", ["basic", "post"])
def test_code_flow_gives_a_signed_id_token_and_signed_userinfo(fc: FcActions, method: str) -> None:
    tokens = fc.tokens("claire-jullien", method=method)

    body = tokens.token_response
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 60
    assert body["scope"] == "openid identite_pivot email"
    assert "refresh_token" not in body

    assert tokens.id_token_header["alg"] == "ES256"
    assert tokens.id_token_header["kid"] == fc.client.get("/api/v2/jwks").get_json()["keys"][0]["kid"]
    claims = tokens.id_token
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_A["client_id"]
    assert claims["nonce"] == tokens.nonce
    assert claims["acr"] == "eidas1"
    assert claims["amr"] == ["pwd"]
    assert claims["exp"] - claims["iat"] == 60
    assert claims["auth_time"] <= claims["iat"]
    assert claims["at_hash"] == create_half_hash(tokens.access_token, "ES256").decode()
    assert len(claims["sub"]) == 64

    info = fc.userinfo_claims(tokens.access_token)
    assert info == {
        "sub": claims["sub"],
        "given_name": "Claire",
        "family_name": "JULLIEN",
        "birthdate": "1985-07-21",
        "gender": "female",
        "birthplace": "21231",
        "birthcountry": "99100",
        "email": "claire.jullien@courriel.example",
        "iss": ISSUER,
        "aud": CLIENT_A["client_id"],
        "iat": info["iat"],
    }


def test_callback_carries_code_and_the_exact_state(fc: FcActions) -> None:
    callback, params = fc.login("marc-antoine-durand")
    assert set(callback) == {"code", "state"}
    assert callback["state"] == params["state"]


def test_token_response_is_not_cached(fc: FcActions) -> None:
    callback, _ = fc.login()
    response = fc.token(callback["code"])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_userinfo_answers_post_too(fc: FcActions) -> None:
    tokens = fc.tokens()
    response = fc.userinfo(tokens.access_token, method="POST")
    assert response.status_code == 200
    assert response.mimetype == "application/jwt"
    assert fc.verify(response.get_data(as_text=True))[1]["sub"] == tokens.id_token["sub"]


def test_authorization_request_by_post(fc: FcActions, client: FlaskClient) -> None:
    params = fc.authorization_params()
    response = client.post("/api/v2/authorize", data=params)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    answer = fc.answer(response.headers["Location"], page, citizen="claire-jullien")
    assert query_of(answer)["state"] == params["state"]
