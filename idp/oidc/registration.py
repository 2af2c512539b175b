"""Dynamic client registration (RFC 7591, OIDC Dynamic Client Registration 1.0) behind an initial access token.

The initial access token is ``IDP_REGISTRATION_TOKEN`` (or ``IDP_REGISTRATION_TOKEN_FILE``); without it the
endpoint is closed and not advertised. Registered clients are third-party clients: consent screen, pairwise
subjects always (asking for ``subject_type`` ``public`` is ``invalid_client_metadata``), https redirect URIs (http
only on loopback addresses).

The client and its audit event are written without committing; the view commits once the response is built, and a
refused registration is rolled back (:mod:`idp.oidc.boundary`).
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from authlib.consts import default_json_headers
from authlib.oauth2.claims import BaseClaims
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import ClientMetadataClaims, ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7591.errors import InvalidRedirectURIError
from authlib.oidc.registration import ClientMetadataClaims as OIDCClientMetadataClaims
from authlib.oidc.rpinitiated import ClientMetadataClaims as LogoutClientMetadataClaims
from joserfc.errors import JoseError

from idp.audit import record
from idp.db import get_session
from idp.oidc import clients
from idp.oidc.clients import ClientSettings, ClientSettingsError, is_loopback
from idp.oidc.crypto import digest, new_identifier, new_secret, secret_matches
from idp.oidc.discovery import metadata
from idp.oidc.provider import DEFAULT_CLIENT_SCOPE, SCOPES, get_provider

#: Metadata the provider cannot honour: registering them would promise what it does not do.
UNSUPPORTED = (
    "jwks_uri",
    "id_token_encrypted_response_alg",
    "id_token_encrypted_response_enc",
    "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc",
    "request_uris",
    "frontchannel_logout_uri",
)
SECTOR_FETCH_TIMEOUT = 5
#: Checked for their JSON type before Authlib's validators, which assume it.
STRING_METADATA = (
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
    "token_endpoint_auth_method",
    "subject_type",
    "sector_identifier_uri",
    "id_token_signed_response_alg",
    "userinfo_signed_response_alg",
    "backchannel_logout_uri",
    "application_type",
    "token_endpoint_auth_signing_alg",
    "initiate_login_uri",
)
LIST_METADATA = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "contacts",
    "default_acr_values",
)


class BackchannelClaims(BaseClaims):  # type: ignore[misc]
    """OpenID Connect Back-Channel Logout 1.0, 2.2: the client's logout URI."""

    REGISTERED_CLAIMS: ClassVar[list[str]] = ["backchannel_logout_uri", "backchannel_logout_session_required"]


def _list_of_strings(data: dict[str, Any], name: str, default: list[str] | None = None) -> list[str]:
    value = data.get(name, default if default is not None else [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadataError(f"{name} must be an array of strings.")
    return list(value)


def _optional_string(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidClientMetadataError(f"{name} must be a string.")
    return value


def sector_from_uri(uri: str, redirect_uris: list[str]) -> str:
    """Fetch a ``sector_identifier_uri`` and check it lists every redirect URI (OIDC Registration 5)."""
    parts = urlsplit(uri)
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))):
        raise InvalidClientMetadataError("sector_identifier_uri must be an https URI.")
    try:
        answer = requests.get(uri, timeout=SECTOR_FETCH_TIMEOUT, allow_redirects=False)
        listed = answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        raise InvalidClientMetadataError("sector_identifier_uri could not be read.") from exc
    if not isinstance(listed, list) or not set(redirect_uris) <= {u for u in listed if isinstance(u, str)}:
        raise InvalidClientMetadataError("sector_identifier_uri does not list every redirect_uri.")
    return parts.hostname


class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    def __init__(self, server: Any = None) -> None:
        super().__init__(
            server,
            claims_classes=[
                ClientMetadataClaims,
                OIDCClientMetadataClaims,
                LogoutClientMetadataClaims,
                BackchannelClaims,
            ],
        )

    def authenticate_token(self, request: Any) -> bool:
        expected = get_provider().config.get("REGISTRATION_TOKEN")
        header = request.headers.get("Authorization") or ""
        scheme, _, presented = header.partition(" ")
        if not expected or scheme.lower() != "bearer" or not presented:
            return False
        return secret_matches(presented.strip(), digest(str(expected)))

    def get_server_metadata(self) -> dict[str, Any]:
        """Discovery's metadata, against which Authlib checks the registration request; a service may ask for the
        service scopes too (checked again, by grant type, in :func:`clients.validate`)."""
        provider = get_provider()
        found = metadata(provider)
        found["scopes_supported"] = [*found["scopes_supported"], *clients.service_scopes(provider.config)]
        return found

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        data = request.payload.data
        if not isinstance(data, dict) or not data:
            raise InvalidRequestError("The body must be a JSON object of client metadata.")
        for name in UNSUPPORTED:
            if data.get(name):
                raise InvalidClientMetadataError(f"{name} is not supported by this provider.")
        for name in STRING_METADATA:
            if name in data and not isinstance(data[name], str):
                raise InvalidClientMetadataError(f"{name} must be a string.")
        for name in LIST_METADATA:
            if name in data and not (isinstance(data[name], list) and all(isinstance(v, str) for v in data[name])):
                error = InvalidRedirectURIError if name == "redirect_uris" else InvalidClientMetadataError
                raise error(f"{name} must be an array of strings.")
        if data.get("subject_type", "pairwise") != "pairwise":
            # The public ``sub`` is the one first-party clients receive: a third party holding it could join its
            # users with theirs. Refused rather than silently replaced, so the client knows what it will get.
            raise InvalidClientMetadataError("subject_type: registered clients receive pairwise subjects only.")
        try:
            extracted: dict[str, Any] = super().extract_client_metadata(request)
        except InvalidClientMetadataError as exc:
            if "'redirect_uris'" in str(exc.description or ""):
                raise InvalidRedirectURIError(exc.description) from exc
            raise
        except (ValueError, TypeError, AttributeError, KeyError, JoseError) as exc:
            raise InvalidClientMetadataError("Invalid client metadata.") from exc
        return extracted

    def service_settings_from(self, data: dict[str, Any], client_id: str) -> ClientSettings:
        """A ministry service (grant_types client_credentials): its scopes as asked, checked against
        ``IDP_SERVICE_SCOPES`` by :func:`clients.create` (an unknown scope is an error, not dropped: the service
        must know it will not get it)."""
        scope = data.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidClientMetadataError("scope must be a string.")
        method = _optional_string(data, "token_endpoint_auth_method") or "client_secret_basic"
        jwks = data.get("jwks")
        if jwks is not None and not isinstance(jwks, dict):
            raise InvalidClientMetadataError("jwks must be a JWK Set.")
        return ClientSettings(
            client_id=client_id,
            client_name=_optional_string(data, "client_name") or client_id,
            redirect_uris=_list_of_strings(data, "redirect_uris"),
            grant_types=_list_of_strings(data, "grant_types"),
            response_types=_list_of_strings(data, "response_types", []),
            token_endpoint_auth_method=method,
            scope=scope,
            first_party=False,
            subject_type="public",
            jwks=jwks if method == "private_key_jwt" else None,
        )

    def settings_from(self, data: dict[str, Any], client_id: str) -> ClientSettings:
        if "client_credentials" in _list_of_strings(data, "grant_types"):
            return self.service_settings_from(data, client_id)
        redirect_uris = _list_of_strings(data, "redirect_uris")
        if not redirect_uris:
            raise InvalidRedirectURIError("redirect_uris is required.")
        scope = data.get("scope", DEFAULT_CLIENT_SCOPE)
        if not isinstance(scope, str):
            raise InvalidClientMetadataError("scope must be a string.")
        # RFC 7591 2: the server may narrow the scope; unknown values are dropped, openid is always there.
        scopes = [s for s in dict.fromkeys(["openid", *scope.split()]) if s in SCOPES]
        sector_uri = _optional_string(data, "sector_identifier_uri")
        sector = sector_from_uri(sector_uri, redirect_uris) if sector_uri else None
        jwks = data.get("jwks")
        if jwks is not None and not isinstance(jwks, dict):
            raise InvalidClientMetadataError("jwks must be a JWK Set.")
        method = _optional_string(data, "token_endpoint_auth_method") or "client_secret_basic"
        hosts = {urlsplit(u).hostname or "" for u in redirect_uris}
        return ClientSettings(
            client_id=client_id,
            client_name=_optional_string(data, "client_name") or sorted(hosts)[0] or client_id,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=_list_of_strings(data, "post_logout_redirect_uris"),
            backchannel_logout_uri=_optional_string(data, "backchannel_logout_uri"),
            grant_types=_list_of_strings(data, "grant_types", ["authorization_code"]),
            response_types=_list_of_strings(data, "response_types", ["code"]),
            token_endpoint_auth_method=method,
            scope=" ".join(scopes),
            first_party=False,
            subject_type="pairwise",
            sector_identifier=sector,
            sector_identifier_uri=sector_uri,
            # OIDC Registration 2: RS256 when the client does not say.
            id_token_signed_response_alg=_optional_string(data, "id_token_signed_response_alg") or "RS256",
            userinfo_signed_response_alg=_optional_string(data, "userinfo_signed_response_alg"),
            # RFC 7591 §3.2.1: the server may replace requested metadata. A JWK Set is only of use to
            # private_key_jwt clients; others (the conformance suite sends one to every client) register without it.
            jwks=jwks if method == "private_key_jwt" else None,
        )

    def create_registration_response(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        if not self.authenticate_token(request):
            raise InvalidTokenError(description="A valid initial access token is required.")
        self.extract_client_metadata(request)
        raw = request.payload.data
        client_id = new_identifier(16)
        settings = self.settings_from(raw, client_id)
        session = get_session()
        try:
            client, secret = clients.create(
                session, settings, get_provider().config, registered_by="registration", secret=new_secret()
            )
        except ClientSettingsError as exc:
            # Nothing is kept: the refusal rolls the request back (idp.oidc.boundary).
            error_cls = (
                InvalidRedirectURIError
                if any(p.startswith("redirect_uri") for p in exc.problems)
                else InvalidClientMetadataError
            )
            raise error_cls(_ascii("; ".join(exc.problems))) from None
        record(
            session,
            "client.registered",
            client_id=client.client_id,
            registered_by="registration",
            auth_method=client.token_endpoint_auth_method,
            subject_type=client.subject_type,
        )
        body: dict[str, Any] = {
            **client.client_metadata,
            "client_id": client.client_id,
            "client_id_issued_at": int(time.time()),
        }
        if secret is not None:
            body["client_secret"] = secret
            body["client_secret_expires_at"] = 0
        return 201, body, default_json_headers


def _ascii(text: str) -> str:
    """error_description allows printable ASCII without quote or backslash (RFC 6749 5.2)."""
    cleaned = json.dumps(text, ensure_ascii=True)[1:-1].replace("\\", "/").replace('"', "'")
    return cleaned[:400]
