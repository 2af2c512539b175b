"""oidcc-config-certification-test-plan ("Config OP"): one module, the discovery document checked as the suite
checks it (OpenID Connect Discovery 1.0 section 3, RFC 8414 section 2).

The instance is configured as in production, with an https public URL: the suite requires every endpoint to be
https, which the test instance's ``http://localhost`` is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from joserfc.jwk import KeySet

from tests.conformance.support import HTTPS_ISSUER, https_url, scope_token_valid
from tests.oidc_helpers import Flow

#: The response types OpenID Connect defines; a static-client OP must support at least one.
OIDC_RESPONSE_TYPES = {
    "code",
    "code id_token",
    "id_token",
    "token id_token",
    "code id_token token",
    "code token",
}
#: BCP 47 tags: a language subtag, then optional subtags (RFC 5646 2.1, simplified to what a provider lists).
BCP47 = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def production_like(make_app: Callable[..., Flask]) -> Flask:
    return make_app(PUBLIC_URL=HTTPS_ISSUER)


def test_oidcc_discovery_endpoint_verification(make_app: Callable[..., Flask], flow: Flow) -> None:
    client = production_like(make_app).test_client()
    response = client.get("/.well-known/openid-configuration")
    # EnsureDiscoveryEndpointResponseStatusCodeIs200, CheckDiscoveryEndpointReturnedJsonContentType
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc: dict[str, Any] = response.get_json()

    # CheckDiscEndpointIssuer, CheckDiscEndpointDiscoveryUrl, CheckDiscEndpointIssuerIsValidUrl: the
    # document is at issuer + /.well-known/openid-configuration; the issuer is https, without query or
    # fragment.
    assert doc["issuer"] == HTTPS_ISSUER
    issuer = urlsplit(doc["issuer"])
    assert issuer.scheme == "https" and not issuer.query and not issuer.fragment

    # OIDCCCheckDiscEndpointResponseTypesSupported (static client), CheckDiscEndpointSubjectTypesSupported,
    # OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported (RS256 is mandatory),
    # OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported (an array when present).
    assert set(doc["response_types_supported"]) & OIDC_RESPONSE_TYPES
    assert doc["subject_types_supported"] and set(doc["subject_types_supported"]) <= {"public", "pairwise"}
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "none" not in doc["id_token_signing_alg_values_supported"]
    assert isinstance(doc["userinfo_signing_alg_values_supported"], list)

    # CheckDiscEndpointAuthorizationEndpoint / TokenEndpoint / UserinfoEndpoint / RegistrationEndpoint,
    # CheckJwksUri, CheckDiscEndpointAllEndpointsAreHttps: every URL the document gives is https.
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "registration_endpoint",
        "jwks_uri",
    ):
        assert https_url(doc[name]), name
    urls = {k: v for k, v in doc.items() if k.endswith(("_endpoint", "_uri"))}
    assert urls and all(https_url(v) for v in urls.values()), urls
    for value in urls.values():
        assert value.startswith(HTTPS_ISSUER + "/"), "every endpoint is on the issuer's host"

    # FetchServerKeys, ValidateServerJWKs, EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys, and
    # CheckForKeyIdInServerJWKs (oidcc-server): a valid JWK Set of public keys, each with its kid.
    jwks_response = client.get(urlsplit(doc["jwks_uri"]).path)
    assert jwks_response.status_code == 200
    jwks = jwks_response.get_json()
    KeySet.import_key_set(jwks)
    assert jwks["keys"]
    for key in jwks["keys"]:
        assert key["kty"] in ("EC", "RSA"), "no symmetric key"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), "no private part"
        assert key.get("kid")
    assert len({k["kid"] for k in jwks["keys"]}) == len(jwks["keys"])

    # CheckDiscEndpointRequestParameterSupported, CheckDiscEndpointRequestUriParameterSupported,
    # CheckDiscEndpointClaimsParameterSupported (informational in the suite): declared, and truthfully false.
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert doc["claims_parameter_supported"] is False
    assert "request_object_signing_alg_values_supported" not in doc

    # OIDCCCheckDiscEndpointClaimsSupported (recommended): present, with the claims the provider releases.
    assert {"sub", "iss", "auth_time", "acr", "name", "email"} <= set(doc["claims_supported"])

    # OIDCCCheckDiscEndpointGrantTypesSupported (static client): a non-empty array.
    assert doc["grant_types_supported"] and "authorization_code" in doc["grant_types_supported"]

    # CheckDiscEndpointScopesSupportedContainsOpenId, CheckDiscEndpointScopesSupportedSyntax.
    assert "openid" in doc["scopes_supported"]
    assert all(scope_token_valid(s) for s in doc["scopes_supported"])

    # CheckDiscEndpointLocalesSyntax, CheckDiscEndpointLocalesCanonicalCasing.
    for name in ("ui_locales_supported", "claims_locales_supported"):
        assert doc[name] and all(re.match(BCP47, tag) for tag in doc[name]), doc[name]

    # EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray.
    assert doc["code_challenge_methods_supported"] == ["S256"]
