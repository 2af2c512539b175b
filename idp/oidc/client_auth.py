"""Client authentication at the token, introspection and revocation endpoints, on Authlib's methods.

``private_key_jwt`` (RFC 7523, OIDC Core 9), on Authlib's ``JWTBearerClientAssertion``:

- The assertion's ``aud`` must be the issuer identifier, as a single string, and nothing else. That is the 2025
  guidance on audience confusion (the OpenID Foundation's advisory, and the update of RFC 7523 that followed it):
  an assertion whose ``aud`` lists several values, or names an endpoint URL, may have been minted for another
  server — one the client also talks to, which shares or proxies an endpoint URL — and replayed here. Authlib
  accepts any ``aud`` array that contains one of :meth:`PrivateKeyJWT.get_audiences`, so the exact comparison is
  made first, in :meth:`PrivateKeyJWT.verify_claims`, the hook Authlib calls with the verified claims.
- Each assertion is accepted once: its ``jti`` goes into a replay cache in the ephemeral store (``add``: of two
  concurrent uses exactly one wins) until the assertion expires.

``client_secret_basic``: Authlib's, except that credentials which are not base64 of UTF-8 are an ``invalid_client``
answer (401) instead of an exception (a 500): :func:`client_secret_basic`.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
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
        return [self.provider.issuer]

    def verify_claims(self, claims: Any) -> None:
        """The issuer identifier as a single string (see the module), then Authlib's checks (iss, sub, exp, jti)."""
        if claims.get("aud") != self.provider.issuer:
            raise InvalidClientError(
                status_code=401,
                description="The client assertion's aud must be the issuer identifier, as a single string.",
            )
        super().verify_claims(claims)

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


def client_secret_basic(query_client: Any, request: Any) -> Any:
    """Authlib's ``client_secret_basic``; malformed Basic credentials are ``invalid_client``.

    Authlib decodes the header strictly and lets :class:`UnicodeDecodeError` escape on Latin-1 bytes, and
    ``ValueError`` on ``Authorization: Basic`` followed by nothing (found by the fuzz suite): Flask turned both into
    a 500 instead of the standard answer.
    """
    try:
        return authenticate_client_secret_basic(query_client, request)
    except ValueError as exc:  # UnicodeDecodeError is one
        raise InvalidClientError(status_code=401, description="Malformed Basic credentials.") from exc
