"""The signed JWTs the provider issues: ID tokens and userinfo responses (FranceConnect v2 signs both, ES256).

A ``bad_signature`` fault replaces the provider's key with a throw-away one, under the provider's ``kid`` or
an unknown one (:func:`fc_dev_provider.keys.sign_with_stranger`).
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oidc.core.util import create_half_hash

from fc_dev_provider.keys import ALGORITHM, sign_with_stranger
from fc_dev_provider.provider import Provider
from fc_dev_provider.records import ACR, AMR, CodeRecord
from fc_dev_provider.scenarios import Fault, Scenario


def _sign(provider: Provider, claims: dict[str, Any], fault: Fault | None) -> str:
    if fault is None:
        return provider.signing_key.sign(claims)
    kid = provider.signing_key.kid if fault.kid == "same" else "inconnue-" + secrets.token_hex(8)
    return sign_with_stranger(claims, kid)


def id_token(provider: Provider, code: CodeRecord, access_token: str) -> str:
    """ID token (OIDC Core 2): ``acr`` is always ``eidas1``; the request's nonce is echoed."""
    now = int(provider.now())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": code.sub,
        "aud": code.client_id,
        "iat": now,
        "exp": now + provider.ttl("ID_TOKEN_TTL"),
        "auth_time": code.auth_time,
        "nonce": code.nonce,
        "acr": ACR,
        "amr": list(AMR),
    }
    at_hash = create_half_hash(access_token, ALGORITHM)
    if at_hash is not None:
        claims["at_hash"] = at_hash.decode("ascii")
    scenario = code.fault_scenario
    return _sign(provider, claims, scenario.bad_signature("id_token") if scenario else None)


def userinfo(provider: Provider, client_id: str, claims: dict[str, Any], scenario: Scenario | None) -> str:
    """Userinfo as a signed JWT (``application/jwt``): the claims plus ``iss``, ``aud`` and ``iat``."""
    body = {**claims, "iss": provider.issuer, "aud": client_id, "iat": int(provider.now())}
    return _sign(provider, body, scenario.bad_signature("userinfo") if scenario else None)
