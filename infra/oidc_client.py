"""The OpenID Connect relying-party side of an app (the voter portal, the auditors' console): Authlib's Flask client.

One :class:`authlib.integrations.flask_client.OAuth` registry per application (``app.extensions``), so two apps side
by side never share metadata or keys. The provider is configured through discovery, with PKCE S256 and
``client_secret_basic``; its metadata and JWKS are fetched on first use and cached per process, and a token signed
with a key the cache does not know makes Authlib fetch the JWKS again (key rotation at the provider).

What the calls to the provider cost is kept down without changing what they do (:class:`ProviderApp`): they reuse
keep-alive connections from one pool per app (:mod:`infra.http_pool`) instead of a new connection, and a TLS
handshake, each; the proxy settings ``requests`` reads from the process environment are read once per URL instead
of at every call (the environment of a running process does not change); the provider's JWKS is parsed into keys
once per document fetched, not again for every token (:meth:`ProviderApp.key_set`): a token whose ``kid`` the keys
do not have makes the JWKS fetched and parsed again (key rotation), and is refused if the new keys lack it too.
The two calls of every sign-in, the token request (authorization code, PKCE verifier, ``client_secret_basic``) and
userinfo (the bearer token), are sent straight to that pool through urllib3 (:meth:`ProviderApp.fetch_access_token`,
:meth:`ProviderApp.userinfo`): the same request on the wire, the same route (proxy, CA bundle), the same answers
refused the same way as Authlib's ``requests`` session would, without its session, request and response objects.

Checks Authlib leaves to the caller are made here once: the discovery document must name the configured issuer
(OIDC Discovery 4.3, :func:`metadata`), the ID token's ``iss`` and ``aud`` are essential claims (by itself Authlib
accepts an ID token whose ``aud`` names another client if its ``azp`` names this one, :func:`exchange_code`), and
userinfo must be about the ID token's subject (:func:`userinfo_of`). The user's claims are taken from the ID token
when the provider put them there (a client registered at the IdP with ``--claims-in-id-token``), which spares the
userinfo call (:func:`released_claims`). Redirect URIs are built from the app's public address, never from the
Host header (:func:`public_url`).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import requests
from authlib.integrations.base_client.errors import OAuthError, UnsupportedTokenTypeError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.auth import encode_client_secret_basic
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oidc.core import CodeIDToken, ImplicitIDToken, UserInfo
from flask import Flask, current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from infra.http_pool import Route, shared_adapter

CLIENT_NAME = "idp"
EXTENSION_KEY = "infra.oidc_client"


class IssuerMismatch(RuntimeError):
    """The provider's metadata names another issuer than the configured one (mix-up or misconfiguration)."""


#: Failures reaching the provider to start a sign-in or a sign-out: the network, or a bad discovery document.
PROVIDER_ERRORS: tuple[type[Exception], ...] = (
    requests.RequestException,
    IssuerMismatch,
    ValueError,
    KeyError,
    RuntimeError,
)
#: Failures of the callback: the provider, the network, or a forged or stale answer.
CALLBACK_ERRORS: tuple[type[Exception], ...] = (
    OAuthError,
    JoseError,
    requests.RequestException,
    IssuerMismatch,
    KeyError,
    ValueError,
    TypeError,
)


#: URLs whose environment settings a client keeps (the provider's few endpoints; more is not expected).
_MAX_URLS = 32


class _ProviderSession(OAuth2Session):  # type: ignore[misc]
    """Authlib's session (one per call), reading the environment's settings through its client's memory."""

    remembered: dict[tuple[Any, ...], dict[str, Any]] | None = None

    def merge_environment_settings(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        remembered = self.remembered
        try:
            key = (url, frozenset((proxies or {}).items()), stream, verify, cert)
            hash(key)
        except TypeError:  # an unhashable setting: not remembered
            remembered = None
        if remembered is None:
            return cast("dict[str, Any]", super().merge_environment_settings(url, proxies, stream, verify, cert))
        settings = remembered.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if len(remembered) < _MAX_URLS:
                remembered[key] = settings
        return {**settings, "proxies": dict(settings["proxies"] or {})}


#: A token naming a key the cached JWKS lacks makes the JWKS fetched again at most once per this many seconds per
#: process. The back-channel logout endpoint takes tokens from anyone: without this bound, each forged token with an
#: invented ``kid`` would cost a fetch from the IdP. A rotation loses nothing: the IdP publishes a new key before it
#: signs with it, so a fetch forced by anything in the last seconds already holds it, and the first token of a
#: rotation forces its own fetch.
UNKNOWN_KID_REFETCH_SECONDS = 30.0


class ProviderApp(FlaskOAuth2App):  # type: ignore[misc]
    """Authlib's Flask client of the provider: every call on one keep-alive pool, the environment read once per URL."""

    OAUTH_APP_CONFIG = None
    client_cls = _ProviderSession

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._adapter = shared_adapter(self)
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        #: The JWKS document last parsed, and its keys (:meth:`key_set`).
        self._keys: tuple[dict[str, Any], KeySet] | None = None
        #: Where each URL called directly is sent (:meth:`_send`).
        self._routes: dict[str, Route] = {}
        #: When an unknown ``kid`` last made the JWKS fetched again (``time.monotonic``), None before the first.
        self._refetched_at: float | None = None

    def _pooled(self, session: _ProviderSession) -> _ProviderSession:
        session.mount("https://", self._adapter)
        session.mount("http://", self._adapter)
        session.remembered = self._environment
        return session

    def _get_session(self) -> _ProviderSession:
        return self._pooled(super()._get_session())

    def _get_oauth_client(self, **metadata: Any) -> _ProviderSession:
        return self._pooled(super()._get_oauth_client(**metadata))

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Any:
        """``url`` called on the pool, routed as ``requests`` routes it with the environment's settings (read
        once per URL); a ``urllib3`` response read whole, or a :class:`requests.RequestException`."""
        route = self._routes.get(url)
        if route is None:
            with requests.Session() as session:
                settings = session.merge_environment_settings(url, {}, None, None, None)
            route = self._adapter.route(url, settings)
            if len(self._routes) < _MAX_URLS:
                self._routes[url] = route
        headers = {"User-Agent": self._user_agent, "Accept": "application/json", **headers}
        return self._adapter.send_on(route, method, headers, body, float(self.client_kwargs["default_timeout"]))

    def create_authorization_url(self, redirect_uri: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Authlib's, with its random values drawn by :func:`secrets.token_urlsafe` when the caller gives none:
        Authlib draws them one character at a time through ``random.SystemRandom`` (98 calls for a sign-in, a
        seventh of ``/connexion``'s CPU). Each is at least as strong as Authlib's: ``state`` 192 bits (Authlib's 30
        characters of 62: 178), the PKCE ``code_verifier`` 384 bits in 64 characters of RFC 7636's alphabet
        (Authlib's 48 characters: 286), the ``nonce`` 128 bits (Authlib's 20 characters: 119)."""
        kwargs.setdefault("state", secrets.token_urlsafe(24))
        if self.client_kwargs.get("code_challenge_method"):
            kwargs.setdefault("code_verifier", secrets.token_urlsafe(48))
        scope = kwargs.get("scope", self.client_kwargs.get("scope"))
        if scope and "openid" in (scope if isinstance(scope, list | tuple) else str(scope).split()):
            kwargs.setdefault("nonce", secrets.token_urlsafe(16))
        return cast("dict[str, Any]", super().create_authorization_url(redirect_uri, **kwargs))

    def fetch_access_token(self, redirect_uri: str | None = None, **kwargs: Any) -> Any:
        """The authorization code exchanged at the token endpoint (RFC 6749 4.1.3, PKCE's ``code_verifier``,
        ``client_secret_basic``) as Authlib's client sends it, and its answer checked as Authlib checks it: a
        5xx or a body that is not a JSON object raises the HTTP error (or :class:`ValueError`), an ``error`` member
        :class:`OAuthError`. Other grants and client authentications go through Authlib's own client."""
        method = self.client_kwargs.get("token_endpoint_auth_method", "client_secret_basic")
        if "code" not in kwargs or method != "client_secret_basic" or self.access_token_params:
            return super().fetch_access_token(redirect_uri, **kwargs)
        params = {name: value for name, value in kwargs.items() if name != "state"}  # state stays with the client
        body = prepare_token_request("authorization_code", redirect_uri=redirect_uri, **params)
        metadata = self.load_server_metadata()
        url = self.access_token_url or metadata.get("token_endpoint")
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        # Authlib's own client_secret_basic header (what its client would have sent).
        url, headers, body = encode_client_secret_basic(self, "POST", url, headers, body)
        response = self._send("POST", url, headers, body.encode())
        token = _json_object(response, url, token_endpoint=True)
        if "error" in token:
            raise OAuthError(error=token["error"], description=token.get("error_description"))
        return OAuth2Token.from_dict(token)

    def userinfo(self, **kwargs: Any) -> UserInfo:
        """The userinfo answer for ``token`` (a bearer token in the ``Authorization`` header, RFC 6750 2.1), sent
        on the pool; an HTTP error status raises it, a body that is not JSON :class:`ValueError`."""
        token = kwargs.get("token")
        if set(kwargs) != {"token"} or not isinstance(token, dict):
            return cast(UserInfo, super().userinfo(**kwargs))
        token_type = str(token.get("token_type") or "bearer")
        if token_type.lower() != "bearer":
            raise UnsupportedTokenTypeError(description=f"unsupported token type {token_type[:20]!r}")
        url = self.load_server_metadata()["userinfo_endpoint"]
        response = self._send("GET", url, {"Authorization": f"Bearer {token['access_token']}"})
        if response.status >= 400:
            raise _http_error(response, url)
        return UserInfo(json.loads(response.data))

    def key_set(self, *, force: bool = False) -> KeySet:
        """The provider's JWKS as keys, parsed once per document: ``force`` fetches the document again first."""
        document = self.fetch_jwk_set(force=force)
        parsed = self._keys
        if parsed is not None and parsed[0] is document:
            return parsed[1]
        keys = KeySet.import_key_set(document)
        self._keys = (document, keys)
        return keys

    def decode_jwt(
        self, token: str, *, algorithms: list[str] | None = None, registry: JWSRegistry | None = None
    ) -> jwt.Token:
        """``token`` decoded and its signature checked with the provider's keys; the JWKS fetched again once when
        the token names a key they do not have, unless an unknown key already did so in the last
        :data:`UNKNOWN_KID_REFETCH_SECONDS` (raises :class:`~joserfc.errors.InvalidKeyIdError` if still unknown)."""
        try:
            return jwt.decode(token, self.key_set(), algorithms, registry)
        except InvalidKeyIdError:
            now = time.monotonic()
            if self._refetched_at is not None and now - self._refetched_at < UNKNOWN_KID_REFETCH_SECONDS:
                raise
            self._refetched_at = now
            return jwt.decode(token, self.key_set(force=True), algorithms, registry)

    def parse_id_token(
        self,
        token: dict[str, Any],
        nonce: str,
        claims_options: dict[str, Any] | None = None,
        claims_cls: type[Any] | None = None,
        leeway: int = 120,
    ) -> UserInfo | None:
        """Authlib's (1.6), with the keys kept (:meth:`key_set`) instead of parsed from the JWKS for every token."""
        if "id_token" not in token:
            return None
        claims_params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if claims_cls is None:
            if "access_token" in token:
                claims_params["access_token"] = token["access_token"]
                claims_cls = CodeIDToken
            else:
                claims_cls = ImplicitIDToken
        metadata = self.load_server_metadata()
        if claims_options is None and "issuer" in metadata:
            claims_options = {"iss": {"values": [metadata["issuer"]]}}
        algorithms = metadata.get("id_token_signing_alg_values_supported")
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        decoded = self.decode_jwt(token["id_token"], registry=registry)
        claims = claims_cls(decoded.claims, decoded.header, claims_options, claims_params)
        claims.validate(leeway=leeway)
        return UserInfo(claims)

    def close(self) -> None:
        """Close the pool's connections now (otherwise when the app is garbage collected)."""
        self._adapter.shutdown()


def _http_error(response: Any, url: str) -> requests.HTTPError:
    kind = "Client" if response.status < 500 else "Server"
    return requests.HTTPError(f"{response.status} {kind} Error for url: {url}")


def _json_object(response: Any, url: str, *, token_endpoint: bool) -> dict[str, Any]:
    """The answer's JSON object (Authlib's rules for a token endpoint's answer: a 5xx is an error whatever its body;
    a body that is not a JSON object is the HTTP error of its status, or :class:`ValueError`)."""
    if response.status >= 500:
        raise _http_error(response, url)
    try:
        found = json.loads(response.data)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        if response.status >= 400:
            raise _http_error(response, url)
        raise ValueError(f"the answer of {'the token endpoint' if token_endpoint else url} is not a JSON object")
    return found


@dataclass(frozen=True)
class RelyingParty:
    """What the app's OpenID Connect client needs to know, with the names of its settings for messages."""

    issuer: str
    client_id: str
    public_url: str
    issuer_setting: str


def init_app(
    app: Flask,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str,
    timeout: int,
    public_url: str,
    issuer_setting: str,
) -> None:
    """Register the provider at ``issuer`` as ``app``'s OpenID Connect provider (discovery on first use)."""
    issuer = issuer.rstrip("/")
    oauth = OAuth(app)
    oauth.register(
        CLIENT_NAME,
        client_cls=ProviderApp,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": timeout,
        },
    )
    app.extensions[EXTENSION_KEY] = RelyingParty(issuer, client_id, public_url.rstrip("/"), issuer_setting)


def relying_party(app: Flask | None = None) -> RelyingParty:
    return cast(RelyingParty, (app or current_app).extensions[EXTENSION_KEY])


def get_client(app: Flask | None = None) -> Any:
    """The registered client (an ``authlib.integrations.flask_client.FlaskOAuth2App``; Authlib is untyped)."""
    oauth = cast("OAuth", (app or current_app).extensions["authlib.integrations.flask_client"])
    return oauth.create_client(CLIENT_NAME)


def issuer(app: Flask | None = None) -> str:
    """The configured issuer, without a trailing slash."""
    return relying_party(app).issuer


def public_url(path: str) -> str:
    """An absolute URL of this app, built from its configured public address, never from the Host header."""
    return relying_party().public_url + path


def metadata() -> dict[str, Any]:
    """The provider's metadata, checked against the configured issuer."""
    data = cast("dict[str, Any]", get_client().load_server_metadata())
    if str(data.get("issuer", "")).rstrip("/") != issuer():
        raise IssuerMismatch(f"the provider's metadata names another issuer than {relying_party().issuer_setting}")
    return data


def returned_issuer_matches(returned: str | None) -> bool:
    """Whether the ``iss`` parameter of an authorization response (RFC 9207), when present, is the configured one."""
    return returned is None or returned.rstrip("/") == issuer()


def exchange_code() -> dict[str, Any]:
    """Exchange the authorization code of the current request; the token, with the validated ID token claims.

    Authlib checks the signature (JWKS), ``exp``, ``iat``, ``nonce``, ``azp`` and ``at_hash``; ``iss`` and ``aud``
    are made essential here. The claims are under ``token["userinfo"]`` (Authlib's name).
    """
    token = get_client().authorize_access_token(
        claims_options={
            "iss": {"essential": True, "value": metadata()["issuer"]},
            "aud": {"essential": True, "value": relying_party().client_id},
        }
    )
    return cast("dict[str, Any]", token)


#: For each scope, a claim the provider always releases with it: an ID token that carries these for the scopes
#: granted carries the scopes' claims (a client registered at the IdP with ``--claims-in-id-token``).
SCOPE_MARKERS = {"profile": "name", "email": "email"}
#: The ID token's own claims (OIDC Core 2, 3.1.3.6; Front- and Back-Channel Logout's ``sid``), none of them a
#: claim about the user that userinfo would answer.
PROTOCOL_CLAIMS = frozenset(
    ("iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "sid")
)


def released_claims(token: dict[str, Any]) -> dict[str, Any]:
    """What the granted scopes release about the user, as userinfo answers it (``sub`` included): taken from the
    validated ID token when it carries them (:data:`SCOPE_MARKERS`), which spares the userinfo call; otherwise
    read from userinfo (:func:`userinfo_of`)."""
    claims: dict[str, Any] = token["userinfo"]
    scopes = str(token.get("scope") or "").split()
    markers = [SCOPE_MARKERS[scope] for scope in scopes if scope in SCOPE_MARKERS]
    if markers and all(marker in claims for marker in markers):
        return {name: value for name, value in claims.items() if name not in PROTOCOL_CLAIMS}
    return userinfo_of(token)


def userinfo_of(token: dict[str, Any]) -> dict[str, Any]:
    """The userinfo answer for ``token``, refused unless it is about the ID token's subject."""
    userinfo = cast("dict[str, Any]", get_client().userinfo(token=token))
    if userinfo.get("sub") != token["userinfo"]["sub"]:
        raise ValueError("userinfo sub differs from the ID token's")
    return userinfo
