"""What the IdP knows of the provider: its discovery document and its signing keys, fetched over HTTP and cached
per application (``app.extensions``, no module state), and the one place where HTTP calls to it are made.

Every call has the ``IDP_FC_HTTP_TIMEOUT`` timeout (and :data:`CONNECT_TIMEOUT` to connect) and turns a network
failure into a :class:`FederationError` the screens can show (``unavailable``, ``timeout``). Before sending a voter
to the provider, the IdP checks that it answered lately (:meth:`ProviderDirectory.check_reachable`): a provider
down or too slow gets the voter a French page from the IdP within seconds, instead of a browser left waiting on
the provider's page. The discovery document's ``issuer`` must be exactly
``IDP_FC_ISSUER``, even when the document is fetched through ``IDP_FC_INTERNAL_BASE_URL``: the issuer is what
the ID token's ``iss`` is checked against, and what a man in the middle of the internal network cannot change.

The JWKS is kept until a token names a ``kid`` it does not hold; then it is fetched again once for that token
(the provider rotated its key). A token that names an unknown ``kid`` after that is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.federation.errors import FederationError
from idp.federation.settings import FederationSettings

logger = logging.getLogger(__name__)

#: JWS algorithms the IdP accepts from the provider, whatever it advertises: asymmetric only (never ``none`` nor an
#: HMAC keyed with the client secret, which anyone holding the secret could forge).
ACCEPTED_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
#: Seconds a discovery document is reused before it is fetched again (a stale one is used while a new one cannot
#: be fetched).
METADATA_TTL = 3600.0
#: Seconds an answer of the provider vouches for it: past that, the next voter sent there waits for a fresh one.
REACHABLE_TTL = 30.0
#: Longest wait for the provider to accept a connection; the answer then has ``IDP_FC_HTTP_TIMEOUT``.
CONNECT_TIMEOUT = 2.0
_REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the federation uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    id_token_algorithms: tuple[str, ...]
    #: Empty when the provider does not sign its userinfo answers (then plain JSON is accepted).
    userinfo_algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]
    code_challenge_methods: tuple[str, ...]
    acr_values: tuple[str, ...]

    @property
    def logout_origin(self) -> str:
        """Origin of the end-session page the browser is sent to after a sign-out form: for the CSP
        ``form-action``."""
        parts = urlsplit(self.end_session_endpoint or self.authorization_endpoint)
        return f"{parts.scheme}://{parts.netloc}"


def _strings(document: Mapping[str, Any], name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FederationError("invalid_response", "discovery", f"malformed:{name}")
    return tuple(value)


def _url(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FederationError("invalid_response", "discovery", f"missing:{name}")
    assert isinstance(value, str)
    return value


def parse_metadata(document: Any, issuer: str) -> ProviderMetadata:
    """Check a discovery document (OpenID Connect Discovery 1.0, section 4.3) and keep what is used."""
    if not isinstance(document, dict):
        raise FederationError("invalid_response", "discovery", "not_an_object")
    if document.get("issuer") != issuer:
        raise FederationError("invalid_response", "discovery", "issuer_mismatch")
    endpoints = {name: _url(document, name) for name in _REQUIRED_ENDPOINTS}
    end_session = _url(document, "end_session_endpoint") if document.get("end_session_endpoint") else None
    # OpenID Connect Discovery: RS256 when the provider does not say (it must then support it).
    advertised = _strings(document, "id_token_signing_alg_values_supported", ("RS256",))
    id_token_algorithms = tuple(alg for alg in advertised if alg in ACCEPTED_ALGORITHMS)
    if not id_token_algorithms:
        raise FederationError("invalid_response", "discovery", "no_accepted_id_token_algorithm")
    userinfo_algorithms = tuple(
        alg for alg in _strings(document, "userinfo_signing_alg_values_supported") if alg in ACCEPTED_ALGORITHMS
    )
    if "code" not in _strings(document, "response_types_supported", ("code",)):
        raise FederationError("invalid_response", "discovery", "no_code_flow")
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        userinfo_endpoint=endpoints["userinfo_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        end_session_endpoint=end_session,
        id_token_algorithms=id_token_algorithms,
        userinfo_algorithms=userinfo_algorithms,
        token_auth_methods=_strings(document, "token_endpoint_auth_methods_supported", ("client_secret_basic",)),
        code_challenge_methods=_strings(document, "code_challenge_methods_supported"),
        acr_values=_strings(document, "acr_values_supported"),
    )


class ProviderDirectory:
    """Discovery and JWKS of one provider, cached for one application (thread-safe: threaded servers share it)."""

    def __init__(self, settings: FederationSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._reached_at = -REACHABLE_TTL
        self._keys: KeySet | None = None

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def request(self, method: str, url: str, stage: str, **kwargs: Any) -> requests.Response:
        """One HTTP call to the provider (through the internal base when set), failures as FederationError."""
        try:
            timeout = (min(CONNECT_TIMEOUT, self.settings.http_timeout), self.settings.http_timeout)
            return requests.request(
                method, self.settings.internal(url), timeout=timeout, allow_redirects=False, **kwargs
            )
        except requests.Timeout:
            raise FederationError("timeout", stage, "timeout") from None
        except requests.RequestException as exc:
            raise FederationError("unavailable", stage, type(exc).__name__) from None

    def _json(self, url: str, stage: str) -> Any:
        response = self.request("GET", url, stage, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise FederationError("unavailable", stage, f"http_{response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise FederationError("invalid_response", stage, "not_json") from None

    # --- discovery ----------------------------------------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            cached, fetched_at = self._metadata, self._metadata_at
        if cached is not None and self._clock() - fetched_at < METADATA_TTL:
            return cached
        try:
            metadata = parse_metadata(self._json(self.settings.discovery_url, "discovery"), self.settings.issuer)
        except FederationError as error:
            if cached is None or error.reason == "invalid_response":
                raise
            # The provider's discovery is down but its document was known: keep using it rather than refuse.
            logger.warning("federation: discovery failed (%s), the cached document is used", error)
            return cached
        with self._lock:
            self._metadata, self._metadata_at = metadata, self._clock()
            self._reached_at = self._metadata_at
        return metadata

    def check_reachable(self) -> None:
        """Raise :class:`FederationError` (``unavailable`` or ``timeout``) unless the provider answered within
        :data:`REACHABLE_TTL` or answers its discovery now, fresh (a cached document proves nothing of the provider's
        health). Costs one request per process every 30 s at most while voters use the button."""
        with self._lock:
            recent = self._clock() - self._reached_at < REACHABLE_TTL
        if recent:
            return
        metadata = parse_metadata(self._json(self.settings.discovery_url, "discovery"), self.settings.issuer)
        with self._lock:
            self._metadata, self._metadata_at = metadata, self._clock()
            self._reached_at = self._metadata_at

    # --- signing keys -------------------------------------------------------------------------------------------

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's JWKS; ``refresh`` fetches it again (a token named a ``kid`` it does not hold)."""
        with self._lock:
            cached = self._keys
        if cached is not None and not refresh:
            return cached
        document = self._json(self.metadata().jwks_uri, "jwks")
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise FederationError("invalid_response", "jwks", "malformed_jwks") from None
        if refresh:
            logger.info("federation: provider JWKS fetched again (unknown kid)")
        with self._lock:
            self._keys = keys
        return keys
