"""Authlib's Flask authorization server and resource protector, wired to the provider's store and clients."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import request as flask_request

from fc_dev_provider.claims import SCOPES_SUPPORTED
from fc_dev_provider.clients import Client
from fc_dev_provider.provider import Provider
from fc_dev_provider.records import CodeRecord, Login, TokenRecord, token_key
from fc_dev_provider.requests import ProviderRequest


class ProviderServer(_FlaskAuthorizationServer):  # type: ignore[misc]
    """Clients from the provider's registry, access tokens in its store, http allowed for an http issuer."""

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider
        self.scopes_supported = list(SCOPES_SUPPORTED)
        self.register_token_generator("default", self.generate_bearer_token)
        self.resource_protector = ResourceProtector()
        self.resource_protector.register_token_validator(AccessTokenValidator(provider))

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def generate_bearer_token(
        self,
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Opaque 256-bit bearer tokens; no refresh token (FranceConnect issues none)."""
        return {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in or self.provider.ttl("ACCESS_TOKEN_TTL"),
            "scope": scope or "",
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        code: CodeRecord = request.authorization_code
        login: Login = request.user
        ttl = int(token["expires_in"])
        record = TokenRecord(
            code.client_id, login.citizen.id, code.sub, code.scope, self.provider.now() + ttl, code.scenario
        )
        self.provider.store.put(token_key(token["access_token"]), record.to_dict(), ttl)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return ProviderRequest(flask_request, allow_http=self.provider.allow_http)


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    """Bearer tokens of the userinfo endpoint, looked up in the store; expiry against the provider's clock."""

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> TokenRecord | None:
        data = self.provider.store.get(token_key(token_string))
        if data is None:
            return None
        record = TokenRecord(**data)
        return replace(record, expired=self.provider.now() >= record.expires_at)


def build_server(provider: Provider) -> ProviderServer:
    from fc_dev_provider.endsession import EndSession
    from fc_dev_provider.grants import AuthorizationCodeGrant, FranceConnectRules, OpenIDCode

    server = ProviderServer(provider)
    server.register_grant(AuthorizationCodeGrant, [FranceConnectRules(), OpenIDCode()])
    server.register_endpoint(EndSession(server=server))
    return server
