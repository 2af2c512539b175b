"""The authorization code grant on Authlib, with FranceConnect's rules.

* :class:`FranceConnectRules`: ``scope`` must contain ``openid``; ``state`` and ``nonce`` are required and
  at least 32 characters; ``acr_values`` must be ``eidas1`` (anything else: ``invalid_acr``). Errors go back
  to the client's callback once its ``redirect_uri`` is known to be registered (Authlib sets it on the error).
* :class:`AuthorizationCodeGrant`: codes live 30 s in the ephemeral store and are taken (read and deleted)
  when redeemed, so a second use is ``invalid_grant``.
* :class:`OpenIDCode`: the ID token, signed ES256.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant as _AuthorizationCodeGrant
from authlib.oidc.core import OpenIDCode as _OpenIDCode

from fc_dev_provider import tokens
from fc_dev_provider.clients import AUTH_METHODS, Client
from fc_dev_provider.provider import get_provider
from fc_dev_provider.records import ACR, CodeRecord, Login, code_key

MIN_STATE_LENGTH = 32
MIN_NONCE_LENGTH = 32


class InvalidAcrError(OAuth2Error):  # type: ignore[misc]
    """FranceConnect's answer to an ``acr_values`` it does not offer."""

    error = "invalid_acr"


class FranceConnectRules:
    """An Authlib grant extension checking the authorization request the way FranceConnect does."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("before_validate_authorization_request_payload", self.check)

    @staticmethod
    def check(grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if "openid" not in str(data.get("scope") or "").split():
            raise InvalidScopeError("The scope must contain openid.")
        for name, minimum in (("state", MIN_STATE_LENGTH), ("nonce", MIN_NONCE_LENGTH)):
            value = data.get(name)
            if not value:
                raise InvalidRequestError(f"Missing '{name}' parameter.")
            if len(value) < minimum:
                raise InvalidRequestError(f"The '{name}' parameter must be at least {minimum} characters.")
        acr_values = data.get("acr_values")
        if not acr_values:
            raise InvalidRequestError("Missing 'acr_values' parameter.")
        if acr_values != ACR:
            raise InvalidAcrError(f"acr_values must be {ACR}.")


class AuthorizationCodeGrant(_AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code: str, request: Any) -> None:
        provider = get_provider()
        login: Login = request.user
        client: Client = request.client
        ttl = provider.ttl("CODE_TTL")
        record = CodeRecord.issue(
            client_id=client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=request.payload.data["nonce"],
            login=login,
            sub=provider.sub_for(client, login.citizen.id),
            expires_at=provider.now() + ttl,
        )
        provider.store.put(code_key(code), record.to_dict(), ttl)

    def query_authorization_code(self, code: str, client: Client) -> CodeRecord | None:
        """Take the code from the store (so it is used at most once), then check its client and expiry."""
        provider = get_provider()
        data = provider.store.take(code_key(code))
        if data is None:
            return None
        record = CodeRecord(**data)
        if record.client_id != client.client_id or provider.now() >= record.expires_at:
            return None
        return record

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing left to delete: :meth:`query_authorization_code` took the code out of the store."""

    def authenticate_user(self, authorization_code: CodeRecord) -> Login | None:
        citizen = get_provider().citizens.get(authorization_code.citizen_id)
        if citizen is None:
            return None
        return Login(citizen, authorization_code.fault_scenario, authorization_code.auth_time)


class OpenIDCode(_OpenIDCode):  # type: ignore[misc]
    """Authlib's OpenID extension (nonce, prompt) with our ID token."""

    def __init__(self) -> None:
        super().__init__(require_nonce=True)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Replay of ID tokens is the relying party's check (it compares the nonce it sent).
        return False

    def process_token(self, grant: Any, response: Any) -> Any:
        _, token, _ = response
        code: CodeRecord = grant.request.authorization_code
        token["id_token"] = tokens.id_token(get_provider(), code, token["access_token"])
        return token
