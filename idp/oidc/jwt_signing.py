"""Signed JWTs the provider issues: ID tokens, signed userinfo responses, back-channel logout tokens.

Every one carries the ``kid`` of the key that signed it, so a relying party holding several keys of the JWKS
(during a rotation) picks the right one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from sqlalchemy.orm import Session

from idp.oidc.crypto import new_identifier
from idp.oidc.keys import SigningKey
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
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[alg])


class Audience(Protocol):
    """What an ID token needs of its client: an :class:`OidcClient`, or the token endpoint's narrow read of it."""

    @property
    def client_id(self) -> str: ...

    @property
    def id_token_signed_response_alg(self) -> str: ...

    @property
    def id_token_ttl(self) -> int: ...


def id_token(
    provider: Provider,
    session: Session,
    client: Audience,
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
