"""``session/end``: RP-initiated logout, FranceConnect's way, on Authlib's end-session endpoint.

``id_token_hint`` (an ID token this provider signed, expired or not) and ``state`` are required. A
``post_logout_redirect_uri`` must be registered for the client the ID token was issued to: then the browser
goes back there with ``state``; an unregistered one is an error page, never a redirect.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oidc.rpinitiated import EndSessionEndpoint
from authlib.oidc.rpinitiated.end_session import EndSessionRequest
from flask import session
from joserfc import jwt
from joserfc.errors import JoseError

from fc_dev_provider.keys import ALGORITHM


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> dict[str, Any]:
        jwks: dict[str, Any] = self.server.provider.signing_key.jwks()
        return jwks

    def get_algorithms(self) -> list[str]:
        return [ALGORITHM]

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        """The signature and issuer only: a relying party logs out with an expired ID token too."""
        provider = self.server.provider
        try:
            token = jwt.decode(id_token_hint, provider.signing_key.key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidRequestError("The id_token_hint was not issued by this provider.") from exc
        claims = dict(token.claims)
        if claims.get("iss") != provider.issuer or not isinstance(claims.get("aud"), str):
            raise InvalidRequestError("The id_token_hint was not issued by this provider.")
        return claims

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        data = request.payload.data
        if not data.get("id_token_hint"):
            raise InvalidRequestError("Missing 'id_token_hint' parameter.")
        if not data.get("state"):
            raise InvalidRequestError("Missing 'state' parameter.")
        validated: EndSessionRequest = super().validate_request(request)
        if validated.client is None:
            raise InvalidRequestError("The client of the id_token_hint is not registered.")
        if data.get("post_logout_redirect_uri") and validated.redirect_uri is None:
            raise InvalidRequestError("The post_logout_redirect_uri is not registered for this client.")
        return validated

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """No single sign-on session to end (every login shows the citizen list); drop the CSRF session."""
        session.clear()
