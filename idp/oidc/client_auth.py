"""``private_key_jwt`` client authentication (RFC 7523, OIDC Core 9) on Authlib's ``JWTBearerClientAssertion``.

Each assertion is accepted once: its ``jti`` goes into a replay cache in the ephemeral store (``add``: of two
concurrent uses exactly one wins) until the assertion expires.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc.provider import Provider
from idp.store import get_store

#: Algorithms accepted for client assertions (asymmetric only: the client's public key is registered).
ASSERTION_ALGS = ["ES256", "RS256", "PS256"]
#: An assertion is refused when it would stay valid longer than this (a long-lived assertion is a credential).
MAX_ASSERTION_LIFETIME = 600


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: Provider) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.provider = provider

    def get_audiences(self) -> list[str]:
        # The issuer (recommended since the 2025 advisory on audience confusion) and the endpoints themselves.
        return [self.provider.issuer, *(self.provider.url(p) for p in ("/token", "/introspect", "/revoke"))]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        if not client.jwks:
            raise InvalidClientError(description="The client has no registered public key.")
        return KeySet.import_key_set(client.jwks)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            return False
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp - time.time() > MAX_ASSERTION_LIFETIME:
            return False
        ttl = max(1, int(exp - time.time()) + self.leeway)
        key = "oidc:jti:" + hashlib.sha256(f"{claims['sub']}\x00{jti}".encode()).hexdigest()
        return get_store().add(key, "1", ttl)
