"""The grants and extensions registered on Authlib's server, with the current hook names of Authlib 1.9.

* :class:`AuthorizationCodeGrant`: codes hashed in the database, redeemed atomically (:mod:`idp.oidc.codes`).
* :class:`S256CodeChallenge`: PKCE with ``S256`` only; required for public clients at the authorization endpoint.
* :class:`RefreshTokenGrant`: rotation on every use, reuse revokes the grant (:mod:`idp.oidc.tokens`).
* :class:`ClientCredentialsGrant`: a ministry service's own access token, scopes within its registration.
* :class:`OpenIDCode` / :class:`OpenIDRefresh`: the ID token, added after the token response is built.

A token request is one transaction: the code or refresh token is taken, the new tokens stored and audited, the ID
token signed, and only then, once Authlib has built the response, is everything committed by the token endpoint
(:mod:`idp.oidc.boundary`). Nothing here commits. A code or refresh token presented again is refused
(``invalid_grant``) and its grant's revocation is declared with :func:`~idp.oidc.boundary.keep_even_if_refused`, so
that it is committed although the request's own writes are rolled back.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant as _AuthorizationCodeGrant
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant as _ClientCredentialsGrant
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant as _RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import OpenIDToken as _OpenIDToken

from idp.db import get_session
from idp.models import Voter
from idp.oidc import codes, jwt_signing, tokens
from idp.oidc.boundary import keep_even_if_refused
from idp.oidc.claims import id_token_claims
from idp.oidc.context import SignedIn
from idp.oidc.crypto import new_secret
from idp.oidc.keys import NoSigningKey
from idp.oidc.models import AUTH_METHODS, OidcAuthorizationCode, OidcClient, OidcToken
from idp.oidc.provider import get_provider


class ServerError(OAuth2Error):  # type: ignore[misc]
    error = "server_error"
    status_code = 500


class AuthorizationCodeGrant(_AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def generate_authorization_code(self) -> str:
        return new_secret()

    def save_authorization_code(self, code: str, request: Any) -> None:
        codes.save(get_session(), code, request, int(get_provider().config["AUTHORIZATION_CODE_TTL"]))

    def query_authorization_code(self, code: str, client: Any) -> OidcAuthorizationCode | None:
        found = codes.consume(get_session(), code, client)
        if isinstance(found, codes.CodeReused):
            keep_even_if_refused(partial(codes.revoke_reused, reuse=found))
            return None
        return found

    def delete_authorization_code(self, authorization_code: OidcAuthorizationCode) -> None:
        """Nothing to do: :func:`codes.consume` marked the code used in this transaction."""

    def authenticate_user(self, authorization_code: OidcAuthorizationCode) -> Voter | None:
        return get_session().get(Voter, authorization_code.voter_id)

    def issue_code(self, redirect_uri: str, user: SignedIn) -> list[tuple[str, str]]:
        """Issue a code for a validated request and return the response parameters (``code``, ``state``).

        The caller adds ``iss`` and delivers them in the request's response mode (query or form_post), which
        Authlib's ``create_authorization_response`` (a redirect only) does not do.
        """
        self.request.user = user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        return params


class ClientCredentialsGrant(_ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 4.4 for ministry services calling each other: a confidential client registered for this grant
    alone obtains an access token for itself (no voter, no ``sub``, no refresh token, no ID token), with scopes
    among those of its registration: all of them when it asks for none, ``invalid_scope`` when it asks for one it
    was not registered for. A public client cannot authenticate here (``invalid_client``), a client not
    registered for the grant gets ``unauthorized_client``. One transaction: the token and its audit event,
    committed by the token endpoint."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [m for m in AUTH_METHODS if m != "none"]

    def validate_requested_scope(self) -> None:
        client: OidcClient = self.request.client
        requested = (self.request.payload.scope or "").split()
        allowed = client.scope.split()
        if any(scope not in allowed for scope in requested):
            raise InvalidScopeError("The client is not registered for every requested scope.")
        self.request.granted_scope = " ".join(dict.fromkeys(requested or allowed))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: dict[str, Any] = self.generate_token(scope=self.request.granted_scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE: ``plain`` is refused (so is a challenge without a method, which would mean plain)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: Any) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge"):
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("code_challenge_method must be S256 (plain is not supported).")
        elif grant.request.client.is_public:
            raise InvalidRequestError("Public clients must use PKCE: code_challenge with method S256.")


class RefreshTokenGrant(_RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def validate_token_request(self) -> None:
        # The token first, with its client and voter in one statement: the client that authenticates next is then
        # found among the loaded rows (AuthorizationServer.query_client) instead of being read again.
        self.request.presented_refresh = tokens.find(
            get_session(), self.request.form.get("refresh_token"), holders=True
        )
        super().validate_token_request()

    def authenticate_refresh_token(self, refresh_token: str) -> OidcToken | None:
        presented: OidcToken | None = getattr(self.request, "presented_refresh", None)
        found = tokens.consume_refresh(get_session(), refresh_token, self.request.client, found=presented)
        if isinstance(found, tokens.RefreshReused):
            keep_even_if_refused(partial(tokens.revoke_reused, reuse=found))
            return None
        return found

    def authenticate_user(self, refresh_token: OidcToken) -> Voter | None:
        # Loaded with the token (tokens.find(..., holders=True)).
        return refresh_token.voter

    def revoke_old_credential(self, refresh_token: OidcToken) -> None:
        """Nothing to do: :func:`tokens.consume_refresh` marked it rotated in this transaction."""


def _wants_id_token(scope: str | None) -> bool:
    return bool(scope) and "openid" in str(scope).split()


def _resolve_signing_key(grant: Any, result: Any = None) -> None:
    """Fail before anything is written if the client's ID token cannot be signed (keys not initialised); keep the
    key on the request for :func:`_add_id_token`, which signs with it."""
    client = grant.request.client
    try:
        grant.request.signing_key = get_provider().keys.signing_key(get_session(), client.id_token_signed_response_alg)
    except NoSigningKey as exc:
        raise ServerError("The provider has no signing key for this client's algorithm.") from exc


def _add_id_token(grant: Any, response: Any) -> Any:
    _, token, _ = response
    if not _wants_id_token(token.get("scope")):
        return token
    request = grant.request
    code: OidcAuthorizationCode | None = request.authorization_code
    source: OidcAuthorizationCode | OidcToken = code if code is not None else request.refresh_token
    stored: OidcToken = request.access_token_row
    # Both grants that reach here carry a voter's sign-in: a service's token (client_credentials) has no ID token.
    assert stored.subject is not None and source.auth_time is not None and source.acr is not None
    released = None
    if code is not None and request.client.id_token_claims and request.user is not None:
        # A client registered for it has its scopes' claims in the sign-in's ID token (not in a refreshed one).
        released = id_token_claims(request.user, stored.subject, token["scope"])
    token["id_token"] = jwt_signing.id_token(
        get_provider(),
        get_session(),
        request.client,
        sub=stored.subject,
        auth_time=source.auth_time,
        acr=source.acr,
        amr=list(source.amr),
        sid=source.sid,
        # OIDC Core 12.2: a refreshed ID token SHOULD NOT carry the nonce of the original authentication.
        nonce=code.nonce if code is not None else None,
        access_token=token["access_token"],
        key=getattr(request, "signing_key", None),
        released=released,
    )
    return token


class OpenIDCode(_OpenIDCode):  # type: ignore[misc]
    """OpenID Connect for the code grant: nonce, prompt (Authlib's checks) and the ID token (ours)."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # The nonce protects the relying party against replayed ID tokens; the provider echoes it. Refusing a
        # nonce seen before would need a cache of every nonce and is not asked of an OP by OIDC Core.
        return False

    def process_token(self, grant: Any, response: Any) -> Any:
        return _add_id_token(grant, response)

    def __call__(self, grant: Any) -> None:
        super().__call__(grant)
        grant.register_hook("before_create_token_response", _resolve_signing_key)


class OpenIDRefresh(_OpenIDToken):  # type: ignore[misc]
    """A fresh ID token on refresh (OIDC Core 12.2): same sub, auth_time, acr; new iat and at_hash."""

    def process_token(self, grant: Any, response: Any) -> Any:
        return _add_id_token(grant, response)

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)
        grant.register_hook("before_create_token_response", _resolve_signing_key)
