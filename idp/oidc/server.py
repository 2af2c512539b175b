"""Authlib's Flask authorization server, wired to the provider's models and endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from flask import Flask

from idp.db import get_session
from idp.oidc import clients, endpoints, grants, tokens
from idp.oidc.client_auth import PrivateKeyJWT, client_secret_basic
from idp.oidc.crypto import new_secret
from idp.oidc.logout import EndSession
from idp.oidc.models import OidcClient
from idp.oidc.registration import Registration
from idp.web import keyed_hasher
from infra.observability import note

if TYPE_CHECKING:
    from idp.oidc.provider import Provider


class AuthorizationServer(_FlaskAuthorizationServer):  # type: ignore[misc]
    """Authlib's server with our client lookup and token storage.

    ``create_oauth2_request`` also accepts an already built :class:`OAuth2Request`: the authorization request
    that survives the sign-in screens is rebuilt from the ephemeral store, not from the current HTTP request.
    """

    def __init__(self, app: Flask, provider: Provider) -> None:
        super().__init__()
        self.provider = provider
        self.init_app(app)
        self.register_token_generator("default", generate_bearer_token)

    def query_client(self, client_id: str) -> OidcClient | None:
        """The client, from the rows this request has already loaded if it is among them (introspection and the
        refresh grant read the presented token with its client first), else from the database."""
        session = get_session()
        client = next(
            (
                loaded
                for loaded in session.identity_map.values()
                if isinstance(loaded, OidcClient) and loaded.client_id == client_id
            ),
            None,
        )
        if client is None:
            client = clients.find_active(session, client_id)
        elif client.is_disabled:
            return None
        if client is not None:
            note(client_id=client.client_id)  # a registered client only: the request's log line
        return client

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # The ID token is built from the row just stored (its subject): kept on the request, not read back.
        request.access_token_row = tokens.save(get_session(), token, request, keyed_hasher())

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


def generate_bearer_token(
    grant_type: str,
    client: OidcClient,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Opaque 256-bit bearer tokens (see :mod:`idp.oidc.tokens` for why not JWTs), client lifetimes."""
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": new_secret(),
        "expires_in": expires_in or client.access_token_ttl,
        "scope": client.get_allowed_scope(scope),
    }
    if include_refresh_token:
        token["refresh_token"] = new_secret()
    return token


def build_server(app: Flask, provider: Provider) -> AuthorizationServer:
    server = AuthorizationServer(app, provider)
    server.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(provider))
    server.register_client_auth_method("client_secret_basic", client_secret_basic)
    server.register_grant(grants.AuthorizationCodeGrant, [grants.S256CodeChallenge(required=True), grants.OpenIDCode()])
    server.register_grant(grants.RefreshTokenGrant, [grants.OpenIDRefresh()])
    server.register_grant(grants.ClientCredentialsGrant)
    endpoints.register(server)
    server.register_endpoint(EndSession)
    server.register_endpoint(Registration())
    return server
