"""Discovery (conformance config plan: oidcc-discovery-endpoint-verification): complete, valid, and truthful — each
advertised endpoint answers, and what is declared unsupported is refused."""

from __future__ import annotations

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from authlib.oidc.rpinitiated import OpenIDProviderMetadata as LogoutMetadata

from tests.oidc_helpers import ISSUER

pytest_plugins = ["tests.oidc_fixtures"]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REGISTRATION_TOKEN": "initial-access-token-for-tests-0123456789"}


def test_discovery_document(flow):
    response = flow.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    doc = response.get_json()
    assert doc["issuer"] == ISSUER
    for name, path in {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/jwks.json",
        "end_session_endpoint": "/logout/end",
        "registration_endpoint": "/register",
        "introspection_endpoint": "/introspect",
        "revocation_endpoint": "/revoke",
    }.items():
        assert doc[name] == ISSUER + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query", "form_post"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert doc["subject_types_supported"] == ["public", "pairwise"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert doc["userinfo_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert doc["acr_values_supported"] == [
        "urn:portail-elections:acr:password",
        "urn:portail-elections:acr:password+vote-code",
    ]
    assert {"openid", "profile", "email", "academie"} == set(doc["scopes_supported"])
    assert {
        "sub",
        "email",
        "email_verified",
        "given_name",
        "family_name",
        "birthdate",
        "gender",
        "academie",
        "acr",
        "amr",
        "auth_time",
        "sid",
    } <= set(doc["claims_supported"])
    assert doc["claims_parameter_supported"] is False
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert doc["frontchannel_logout_supported"] is False
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["ui_locales_supported"] == ["fr"]
    metadata = OpenIDProviderMetadata(doc)
    metadata.validate(metadata_classes=[LogoutMetadata])


def test_every_advertised_endpoint_exists(flow):
    doc = flow.client.get("/.well-known/openid-configuration").get_json()
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "registration_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        path = doc[name].removeprefix(ISSUER)
        for method in ("GET", "POST"):
            assert flow.client.open(path, method=method).status_code != 404, (name, method)


def test_registration_endpoint_is_not_advertised_when_closed(app_config, flow):
    from idp import create_app
    from idp.db import get_db

    closed = create_app({**app_config, "REGISTRATION_TOKEN": None})
    doc = closed.test_client().get("/.well-known/openid-configuration").get_json()
    assert "registration_endpoint" not in doc
    get_db(closed).dispose()


def test_jwks_keys_match_the_advertised_algorithms(flow):
    doc = flow.client.get("/.well-known/openid-configuration").get_json()
    keys = flow.client.get("/jwks.json").get_json()["keys"]
    assert {k["alg"] for k in keys} == set(doc["id_token_signing_alg_values_supported"])


def test_declared_unsupported_features_are_refused(flow, rp, voters):
    """request objects and request_uri are declared unsupported: the provider says so to the client."""
    from tests.oidc_helpers import query_of

    response, _, _ = flow.start(rp, request="eyJhbGciOiJub25lIn0.e30.")
    assert query_of(response.headers["Location"])["error"] == "request_not_supported"
    response, _, _ = flow.start(rp, request_uri="https://rp.example.fr/request.jwt")
    assert query_of(response.headers["Location"])["error"] == "request_uri_not_supported"
