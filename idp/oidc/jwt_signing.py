"""Signed JWTs the provider issues: ID tokens, signed userinfo responses, back-channel logout tokens.

Every one carries the ``kid`` of the key that signed it, so a relying party holding several keys of the JWKS
(during a rotation) picks the right one.

The JWS compact serialisation is joserfc's (``joserfc.jwt.encode``), its work on what does not change from one
token to the next done once per key, algorithm and type (:func:`_prepared`): joserfc's checks of the header and of
the key for the algorithm, and the header's segment. Each token then costs its claims' JSON, their base64url and
the signature, made by joserfc's algorithm: the same bytes as ``jwt.encode`` but for the signature, which ECDSA
draws at random (tests/idp/oidc/test_jwt_signing.py holds them against each other).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from authlib.oidc.core.util import create_half_hash
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry
from sqlalchemy.orm import Session

from idp.oidc.crypto import new_identifier
from idp.oidc.keys import MAX_SIGNING_PREPARED, SigningKey
from idp.oidc.models import OidcClient
from idp.oidc.provider import Provider

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120


def sign(
    provider: Provider,
    session: Session,
    alg: str,
    claims: dict[str, Any],
    typ: str = "JWT",
    key: SigningKey | None = None,
) -> str:
    """Sign ``claims`` with ``key`` (of ``alg``, already resolved by the caller) or the current key of ``alg``."""
    if key is None:
        key = provider.keys.signing_key(session, alg)
    header, algorithm = _prepared(provider.keys.signing_prepared, key, alg, typ)
    payload = _b64(_CLAIMS_JSON.encode(claims).encode())
    signing_input = header + b"." + payload
    return (signing_input + b"." + _b64(algorithm.sign(signing_input, key))).decode("ascii")


#: ``joserfc.jwt.encode``'s spelling of the claims (``convert_claims``: no spaces, non-ASCII as itself), its
#: encoder built once. Claims here hold no datetime (times are integers), which it would convert first.
_CLAIMS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _prepared(
    prepared: dict[tuple[int, str, str], tuple[SigningKey, bytes, JWSAlgModel]], key: SigningKey, alg: str, typ: str
) -> tuple[bytes, JWSAlgModel]:
    """The header's segment and joserfc's algorithm for ``key``, checked by joserfc as ``jwt.encode`` checks them
    (the header against its registry, the algorithm among those allowed, the key for the algorithm) the first time;
    kept in ``prepared``, the application's (:attr:`idp.oidc.keys.KeyManager.signing_prepared`)."""
    found = prepared.get((id(key), alg, typ))
    if found is not None and found[0] is key:
        return found[1], found[2]
    # jwt.encode's header: its default type's place first (the caller's type in it), then the caller's fields.
    header = {"typ": typ, "alg": alg, "kid": key.kid}
    registry = JWSRegistry(algorithms=[alg])
    registry.check_header(header)
    algorithm = registry.get_alg(alg)
    algorithm.check_key(key)
    segment = _b64(json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii"))
    if len(prepared) >= MAX_SIGNING_PREPARED:
        prepared.clear()
    prepared[(id(key), alg, typ)] = (key, segment, algorithm)
    return segment, algorithm


def id_token(
    provider: Provider,
    session: Session,
    client: OidcClient,
    *,
    sub: str,
    auth_time: int,
    acr: str,
    amr: list[str],
    sid: str | None,
    nonce: str | None,
    access_token: str | None,
    key: SigningKey | None = None,
    released: Mapping[str, Any] | None = None,
) -> str:
    """An ID token for ``client`` (OIDC Core 2 and 3.1.3.6; RFC 8176 amr values), signed with ``key`` when the
    caller already resolved it (the token endpoint does, before anything is written). ``released``: claims about
    the voter its scopes release (:func:`idp.oidc.claims.id_token_claims`), for a client registered to have them
    in its ID token; never one of the protocol's claims."""
    alg = client.id_token_signed_response_alg
    now = int(time.time())
    claims: dict[str, Any] = {
        **(released or {}),
        "iss": provider.issuer,
        "sub": sub,
        "aud": client.client_id,
        "iat": now,
        "exp": now + client.id_token_ttl,
        "auth_time": auth_time,
        "acr": acr,
        "amr": amr,
    }
    if nonce:
        claims["nonce"] = nonce
    if sid:
        claims["sid"] = sid
    if access_token:
        at_hash = create_half_hash(access_token, alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
    return sign(provider, session, alg, claims, key=key)


def userinfo(provider: Provider, session: Session, client: OidcClient, claims: dict[str, Any]) -> str:
    """Signed userinfo (OIDC Core 5.3.2): the claims plus ``iss`` and ``aud``."""
    alg = client.userinfo_signed_response_alg or client.id_token_signed_response_alg
    now = int(time.time())
    return sign(provider, session, alg, {**claims, "iss": provider.issuer, "aud": client.client_id, "iat": now})


def logout_token(provider: Provider, session: Session, client: OidcClient, *, sub: str, sid: str) -> str:
    """A back-channel logout token (OIDC Back-Channel Logout 2.4), explicitly typed ``logout+jwt``."""
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": new_identifier(),
        "sub": sub,
        "sid": sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    return sign(provider, session, client.id_token_signed_response_alg, claims, typ="logout+jwt")
