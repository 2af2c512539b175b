"""Discovery, JWKS and health of the development provider."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.fc_dev_provider.helpers import API, ISSUER


def test_discovery_describes_a_franceconnect_v2_provider(client: FlaskClient) -> None:
    response = client.get(f"{API}/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.get_json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert meta["end_session_endpoint"] == f"{ISSUER}/session/end"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["acr_values_supported"] == ["eidas1"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    assert meta["userinfo_signing_alg_values_supported"] == ["ES256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert {
        "openid",
        "identite_pivot",
        "given_name",
        "family_name",
        "birthdate",
        "gender",
        "birthplace",
        "birthcountry",
        "email",
        "preferred_username",
    } == set(meta["scopes_supported"])


def test_jwks_publishes_one_public_p256_key(client: FlaskClient) -> None:
    response = client.get(f"{API}/jwks")
    assert response.status_code == 200
    (key,) = response.get_json()["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert key["kid"]
    assert "d" not in key, "the private part must never be published"


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"store": "ok"}}
