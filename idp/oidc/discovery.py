"""The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414): every value here is what the code does.

What the provider deliberately does not do is declared as such (``request_parameter_supported: false`` and so on)
rather than left out, so a client library does not assume a default.
"""

from __future__ import annotations

from typing import Any

from idp.auth.state import ACR_LEVELS
from idp.oidc.client_auth import ASSERTION_ALGS
from idp.oidc.models import AUTH_METHODS, GRANT_TYPES, RESPONSE_TYPES, SIGNING_ALGS, SUBJECT_TYPES
from idp.oidc.provider import SCOPE_CLAIMS, SCOPES, Provider
from idp.oidc.responses import RESPONSE_MODES

INTROSPECTION_AUTH_METHODS = [m for m in AUTH_METHODS if m != "none"]


def claims_supported() -> list[str]:
    names = [name for claims in SCOPE_CLAIMS.values() for name in claims]
    return list(
        dict.fromkeys([*names, "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash"])
    )


def metadata(provider: Provider) -> dict[str, Any]:
    url = provider.url
    document: dict[str, Any] = {
        "issuer": provider.issuer,
        "authorization_endpoint": url("/authorize"),
        "token_endpoint": url("/token"),
        "userinfo_endpoint": url("/userinfo"),
        "jwks_uri": url("/jwks.json"),
        "end_session_endpoint": url("/logout/end"),
        "introspection_endpoint": url("/introspect"),
        "revocation_endpoint": url("/revoke"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": list(RESPONSE_TYPES),
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": list(SIGNING_ALGS),
        "userinfo_signing_alg_values_supported": list(SIGNING_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": list(ACR_LEVELS),
        "claims_supported": claims_supported(),
        "claim_types_supported": ["normal"],
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page"],
        "ui_locales_supported": ["fr"],
        "claims_locales_supported": ["fr"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "frontchannel_logout_session_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
    if provider.config.get("REGISTRATION_TOKEN"):
        document["registration_endpoint"] = url("/register")
    return document
