"""Authlib endpoints of the provider: userinfo, introspection (RFC 7662), revocation (RFC 7009).

End session and registration have modules of their own (:mod:`idp.oidc.logout`, :mod:`idp.oidc.registration`).
Each loads the presented token with its client and its voter in one statement (``tokens.find(..., holders=True)``)
and uses them from there: checking the holders and then reading them again would double the queries.

Introspection and revocation write (an audit event and its mark, a revocation) without committing: their views
commit once the response is built (:mod:`idp.oidc.boundary`). Userinfo writes nothing.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from flask import request as flask_request

from idp.audit import record
from idp.db import get_session
from idp.oidc import jwt_signing, tokens
from idp.oidc.claims import claims_for_scope
from idp.oidc.models import OidcToken
from idp.oidc.provider import get_provider

#: Methods by which a client authenticates to introspection and revocation (its token endpoint method).
ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def token_usable(token: OidcToken | None) -> bool:
    """Live, and its client still enabled and its voter (if it has one: not a service's token) still there."""
    if token is None or not token.is_active():
        return False
    client = token.client
    return client is not None and not client.is_disabled and (token.voter_id is None or token.voter is not None)


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    def authenticate_token(self, token_string: str) -> OidcToken | None:
        token = tokens.find_alone(token_string)
        return token if token is not None and token.kind == "access" else None

    def validate_token(self, token: Any, scopes: Any, request: Any) -> None:
        super().validate_token(token, scopes, request)
        if not token_usable(token):
            raise InvalidTokenError(realm=self.realm)


class BodyOrHeaderProtector(ResourceProtector):  # type: ignore[misc]
    """Bearer token from the Authorization header, or from a form-encoded POST body (RFC 6750 2.1 and 2.2).

    OIDC Core 5.3.1 asks userinfo to accept both; sending both is refused (RFC 6750 2: one method per request).
    """

    def parse_request_authorization(self, request: Any) -> Any:
        in_body = None
        if flask_request.method == "POST" and flask_request.mimetype == "application/x-www-form-urlencoded":
            in_body = flask_request.form.get("access_token")
        if in_body is not None:
            if request.headers.get("Authorization"):
                raise InvalidRequestError("Send the access token in one place only.")
            return self.get_token_validator("bearer"), in_body
        return super().parse_request_authorization(request)


class UserInfo(UserInfoEndpoint):  # type: ignore[misc]
    """Userinfo as JSON, or as a JWT signed with the client's registered ``userinfo_signed_response_alg``."""

    def __call__(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        token: OidcToken = self.resource_protector.acquire_token("openid")
        # The validator checked both (token_usable) on the rows loaded with the token.
        client, voter = token.client, token.voter
        if client is None or voter is None or token.subject is None:
            raise InvalidTokenError()
        claims = claims_for_scope(voter, token.subject, token.scope)
        if client.userinfo_signed_response_alg:
            signed = jwt_signing.userinfo(get_provider(), get_session(), client, claims)
            return 200, signed, [("Content-Type", "application/jwt"), ("Cache-Control", "no-store")]
        return 200, claims, default_json_headers


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662. A client may introspect the tokens issued to it; anything else is ``active: false``."""

    CLIENT_AUTH_METHODS = ENDPOINT_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        # An unknown token_type_hint is ignored (RFC 7662 2.1: the server MAY ignore it), not an error.
        if "token" not in request.form:
            raise InvalidRequestError("Missing 'token' parameter.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> OidcToken | None:
        return tokens.find(get_session(), token_string, holders=True)

    def check_permission(self, token: OidcToken, client: Any, request: Any) -> bool:
        return bool(token.client_id == client.client_id)

    def create_introspection_payload(self, token: OidcToken | None) -> dict[str, Any]:
        if not token_usable(token):
            return {"active": False}
        assert token is not None
        return self.introspect_token(token)

    def introspect_token(self, token: OidcToken) -> dict[str, Any]:
        return tokens.introspection_claims(token, get_provider().issuer)

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        # The token first, with its client and voter in one statement: the client that authenticates is, nearly
        # always, the token's own (check_permission), then found among the loaded rows without a query of its own.
        # The answer is the same in either order (an unknown token or another client's is ``active: false``).
        presented = request.form.get("token")
        found = self.query_token(presented, request.form.get("token_type_hint")) if presented else None
        client = self.authenticate_endpoint_client(request)
        self.check_params(request, client)
        token = found if found is not None and self.check_permission(found, client, request) else None
        body = self.create_introspection_payload(token)
        session = get_session()
        if token is None:
            # An unknown token, or another client's: recorded every time (nothing to mark, and worth seeing).
            record(session, "token.introspected", client_id=client.client_id, jti=None, active=False)
        elif not tokens.introspection_recorded(token, body["active"]):
            # The client's own token: each answer once (tokens.record_introspection).
            voter = token.voter
            tokens.record_introspection(
                session,
                token_id=token.id,
                jti=token.jti,
                active=body["active"],
                client_id=client.client_id,
                subject=voter.subject if voter else None,
            )
        return 200, body, default_json_headers


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: an unknown token answers 200 too (nothing tells the caller whether it existed)."""

    CLIENT_AUTH_METHODS = ENDPOINT_AUTH_METHODS

    def check_params(self, request: Any, client: Any) -> None:
        if "token" not in request.form:
            raise InvalidRequestError("Missing 'token' parameter.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> OidcToken | None:
        return tokens.find(get_session(), token_string, holders=True)

    def authenticate_token(self, request: Any, client: Any) -> OidcToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # A token of another client is left alone, with the same answer as an unknown one.
        return token if token is not None and token.check_client(client) else None

    def revoke_token(self, token: OidcToken, request: Any) -> None:
        session = get_session()
        voter = token.voter
        tokens.revoke_one(session, token, reason="revocation_endpoint", voter_subject=voter.subject if voter else None)


def register(server: Any) -> None:
    protector = BodyOrHeaderProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(UserInfo(resource_protector=protector))
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
