"""The relying-party side of the protocol, free of screens: the authorization request, the code exchange, the ID
token and userinfo checks, the end-session URL.

Built on Authlib's requests client (``OAuth2Session``: authorization URL, PKCE, client authentication at the token
endpoint, OAuth error answers) and joserfc (signatures), with Authlib's ``CodeIDToken`` for the claims of the ID
token (``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``azp``, ``at_hash``). Authlib's Flask client is not used: it
cannot verify a signed userinfo answer, keeps its state in the cookie session of one browser rather than the shared
store, and has no notion of a provider reached through another address than its issuer.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwt import Token

from idp.federation.errors import FederationError
from idp.federation.provider import ProviderDirectory, ProviderMetadata

#: The level of the eIDAS regulation FranceConnect answers for (the only one its v2 offers to this use).
ACR_EIDAS1 = "eidas1"
#: Clock skew tolerated on ``exp`` and ``iat`` (seconds).
LEEWAY = 30
#: Client authentication methods, in order of preference (the secret in a header rather than in a logged body).
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str | None


@dataclass(frozen=True)
class IdToken:
    raw: str
    claims: dict[str, Any]

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])


def _session(directory: ProviderDirectory, metadata: ProviderMetadata | None = None) -> OAuth2Session:
    settings = directory.settings
    method = None
    if metadata is not None:
        method = next((m for m in _AUTH_METHODS if m in metadata.token_auth_methods), None)
        if method is None:
            raise FederationError("invalid_response", "discovery", "no_supported_client_authentication")
    return OAuth2Session(
        settings.client_id,
        settings.client_secret,
        token_endpoint_auth_method=method,
        scope=settings.scope,
        code_challenge_method="S256",
        default_timeout=settings.http_timeout,
    )


def authorization_request(directory: ProviderDirectory, redirect_uri: str) -> AuthorizationRequest:
    """The URL that starts a login at the provider, with fresh ``state`` and ``nonce`` (43 characters each).

    PKCE (S256) is added when the provider announces it: FranceConnect does not need it, but a provider that
    supports it gets the protection against a stolen code.
    """
    metadata = directory.metadata()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48) if "S256" in metadata.code_challenge_methods else None
    with _session(directory) as oauth:
        url, _ = oauth.create_authorization_url(
            metadata.authorization_endpoint,
            state=state,
            code_verifier=verifier,
            nonce=nonce,
            redirect_uri=redirect_uri,
            acr_values=ACR_EIDAS1,
        )
    return AuthorizationRequest(str(url), state, nonce, verifier)


def exchange_code(
    directory: ProviderDirectory, code: str, redirect_uri: str, code_verifier: str | None
) -> dict[str, Any]:
    """The token endpoint's answer for ``code``: at least a bearer ``access_token`` and an ``id_token``."""
    metadata = directory.metadata()
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    try:
        with _session(directory, metadata) as oauth:
            token = oauth.fetch_token(
                directory.settings.internal(metadata.token_endpoint),
                code=code,
                grant_type="authorization_code",
                redirect_uri=redirect_uri,
                allow_redirects=False,
                **extra,
            )
    except requests.Timeout:
        raise FederationError("timeout", "token", "timeout") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        raise FederationError("provider_error", "token", f"http_{status}") from None
    except requests.RequestException as exc:
        raise FederationError("unavailable", "token", type(exc).__name__) from None
    except OAuthError as exc:
        raise FederationError("provider_error", "token", f"oauth:{exc.error}") from None
    except ValueError:
        raise FederationError("provider_error", "token", "not_json") from None
    answer = dict(token)
    if str(answer.get("token_type", "")).lower() != "bearer" or not isinstance(answer.get("access_token"), str):
        raise FederationError("invalid_response", "token", "no_bearer_token")
    if not isinstance(answer.get("id_token"), str):
        raise FederationError("invalid_response", "token", "no_id_token")
    return answer


def decode_signed(directory: ProviderDirectory, value: str, algorithms: tuple[str, ...], stage: str) -> Token:
    """Verify a JWS against the provider's JWKS, fetching it again once when the ``kid`` is unknown."""
    for refresh in (False, True):
        try:
            return jwt.decode(value, directory.keys(refresh=refresh), algorithms=list(algorithms))
        except InvalidKeyIdError:
            if refresh:
                raise FederationError("invalid_response", stage, "unknown_kid") from None
        except JoseError as exc:
            raise FederationError("invalid_response", stage, exc.error) from None
        except (ValueError, TypeError):
            raise FederationError("invalid_response", stage, "malformed_jws") from None
    raise AssertionError("unreachable")  # pragma: no cover


def verify_id_token(directory: ProviderDirectory, raw: str, *, nonce: str, access_token: str) -> IdToken:
    """Signature, then ``iss``, ``aud``, ``exp``, ``iat``, ``sub``, ``nonce``, ``azp``, ``at_hash``, and
    ``acr`` = ``eidas1`` (OpenID Connect Core 3.1.3.7)."""
    metadata = directory.metadata()
    token = decode_signed(directory, raw, metadata.id_token_algorithms, "id_token")
    settings = directory.settings
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": settings.issuer},
        "aud": {"essential": True, "value": settings.client_id},
        "sub": {"essential": True},
        "nonce": {"essential": True},
        "acr": {"essential": True, "value": ACR_EIDAS1},
    }
    params = {"nonce": nonce, "client_id": settings.client_id, "access_token": access_token}
    claims = CodeIDToken(dict(token.claims), dict(token.header), options, params)
    try:
        claims.validate(now=int(time.time()), leeway=LEEWAY)
    except JoseError as exc:
        raise FederationError("invalid_response", "id_token", f"{exc.error}:{getattr(exc, 'claim', '')}") from None
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise FederationError("invalid_response", "id_token", "invalid_claim:sub")
    return IdToken(raw, dict(claims))


def _check_signed_userinfo(directory: ProviderDirectory, claims: dict[str, Any]) -> None:
    """``iss`` and ``aud`` of a signed userinfo answer, when present, name the provider and this client; ``exp``,
    when present, is not past (OpenID Connect Core 5.3.2)."""
    settings = directory.settings
    if "iss" in claims and claims["iss"] != settings.issuer:
        raise FederationError("invalid_response", "userinfo", "invalid_claim:iss")
    if "aud" in claims:
        audience = claims["aud"]
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        if settings.client_id not in audiences:
            raise FederationError("invalid_response", "userinfo", "invalid_claim:aud")
    expiry = claims.get("exp")
    if expiry is not None and (not isinstance(expiry, int | float) or expiry + LEEWAY < time.time()):
        raise FederationError("invalid_response", "userinfo", "expired")


def fetch_userinfo(directory: ProviderDirectory, access_token: str, *, expected_sub: str) -> dict[str, Any]:
    """The userinfo claims, verified.

    A provider whose discovery announces ``userinfo_signing_alg_values_supported`` (FranceConnect v2) must answer
    ``application/jwt`` signed with one of them: a plain JSON answer from it would be an unsigned downgrade and is
    refused. A provider that announces no signing may answer JSON (over TLS, authenticated by the access token).
    The ``sub`` must be the ID token's.
    """
    metadata = directory.metadata()
    response = directory.request(
        "GET",
        metadata.userinfo_endpoint,
        "userinfo",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/jwt, application/json;q=0.5"},
    )
    if response.status_code != 200:
        raise FederationError("provider_error", "userinfo", f"http_{response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    claims: Any
    if content_type == "application/jwt":
        algorithms = metadata.userinfo_algorithms or metadata.id_token_algorithms
        claims = dict(decode_signed(directory, response.text.strip(), algorithms, "userinfo").claims)
        _check_signed_userinfo(directory, claims)
    elif content_type == "application/json" and not metadata.userinfo_algorithms:
        try:
            claims = response.json()
        except ValueError:
            raise FederationError("invalid_response", "userinfo", "not_json") from None
    else:
        detail = "unsigned" if content_type == "application/json" else "content_type"
        raise FederationError("invalid_response", "userinfo", detail)
    if not isinstance(claims, dict):
        raise FederationError("invalid_response", "userinfo", "not_an_object")
    if claims.get("sub") != expected_sub:
        raise FederationError("invalid_response", "userinfo", "sub_mismatch")
    return claims


def end_session_url(metadata: ProviderMetadata, *, id_token: str, state: str, post_logout_redirect_uri: str) -> str:
    """RP-initiated logout at the provider (FranceConnect requires all three parameters)."""
    assert metadata.end_session_endpoint is not None
    query = urlencode({"id_token_hint": id_token, "state": state, "post_logout_redirect_uri": post_logout_redirect_uri})
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return metadata.end_session_endpoint + separator + query
