"""Client registration rules, shared by ``idp clients create`` and RFC 7591 registration.

Problems are reported in English: they are read by the operator or the developer registering a client, as the
``error_description`` of a registration error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idp.models import utcnow
from idp.oidc.crypto import digest, new_identifier, new_secret
from idp.oidc.models import (
    AUTH_METHODS,
    RESPONSE_TYPES,
    SERVICE_GRANT_TYPE,
    SIGNING_ALGS,
    SUBJECT_TYPES,
    VOTER_GRANT_TYPES,
    OidcClient,
)
from idp.oidc.provider import DEFAULT_CLIENT_SCOPE, RESTRICTED_SCOPE_CLAIMS, SCOPES

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{3,64}$")
_LOOPBACK_HOSTS = {"localhost"}
#: Private-use URI schemes of native applications are reverse domain names (RFC 8252 7.1).
_PRIVATE_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$")


class ClientSettingsError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ClientSettings:
    client_name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code", "refresh_token"])
    response_types: list[str] = field(default_factory=lambda: ["code"])
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name
    scope: str = DEFAULT_CLIENT_SCOPE
    first_party: bool = False
    #: None: public for first-party clients, pairwise for third-party ones.
    subject_type: str | None = None
    sector_identifier: str | None = None
    sector_identifier_uri: str | None = None
    id_token_signed_response_alg: str = "ES256"  # noqa: S105 - an algorithm name
    userinfo_signed_response_alg: str | None = None
    #: The code grant's ID token also carries the claims of the client's scopes (no userinfo call needed).
    id_token_claims: bool = False
    jwks: dict[str, Any] | None = None
    access_token_ttl: int | None = None
    refresh_token_ttl: int | None = None
    id_token_ttl: int | None = None
    client_id: str | None = None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uri_problem(uri: Any, what: str, *, allow_http: bool, allow_private_scheme: bool = False) -> str | None:
    """Why ``uri`` is not acceptable as a registered URI, or None."""
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        return f"{what}: not a URI"
    if any(ch.isspace() for ch in uri) or any(ch in uri for ch in "\"'<>;,"):
        return f"{what} {uri!r}: contains spaces or characters that are not allowed"
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return f"{what} {uri!r}: must not contain a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and (allow_http or is_loopback(parts.hostname)):
        return None
    if allow_private_scheme and _PRIVATE_SCHEME_RE.match(parts.scheme or ""):
        return None
    return f"{what} {uri!r}: must be an absolute https URI (http only for loopback addresses)"


def service_scopes(config: Mapping[str, Any]) -> list[str]:
    """The scopes a service may be registered for (``IDP_SERVICE_SCOPES``)."""
    return str(config.get("SERVICE_SCOPES") or "").split()


def validate(settings: ClientSettings, *, allow_http: bool, service_scopes: Collection[str] = ()) -> list[str]:
    """Every problem with ``settings`` (empty when they can be registered).

    ``service_scopes``: what a service (a client_credentials client) may be registered for.
    """
    problems: list[str] = []
    if not settings.client_name or len(settings.client_name) > 200:
        problems.append("client_name: required, at most 200 characters")
    if settings.client_id is not None and not CLIENT_ID_RE.match(settings.client_id):
        problems.append("client_id: 3 to 64 characters among letters, digits and . _ ~ -")
    method = settings.token_endpoint_auth_method
    if method not in AUTH_METHODS:
        problems.append(f"token_endpoint_auth_method: one of {', '.join(AUTH_METHODS)}")
    if SERVICE_GRANT_TYPE in settings.grant_types:
        return problems + _service_problems(settings, service_scopes)
    public = method == "none"
    if not settings.redirect_uris:
        problems.append("redirect_uris: at least one is required")
    for uri in settings.redirect_uris:
        problem = uri_problem(uri, "redirect_uri", allow_http=allow_http, allow_private_scheme=public)
        if problem:
            problems.append(problem)
    for uri in settings.post_logout_redirect_uris:
        problem = uri_problem(uri, "post_logout_redirect_uri", allow_http=allow_http and not public)
        if problem:
            problems.append(problem)
    if settings.backchannel_logout_uri is not None:
        problem = uri_problem(settings.backchannel_logout_uri, "backchannel_logout_uri", allow_http=allow_http)
        if problem:
            problems.append(problem)
    bad_grants = [g for g in settings.grant_types if g not in VOTER_GRANT_TYPES]
    if bad_grants or "authorization_code" not in settings.grant_types:
        problems.append(f"grant_types: authorization_code, optionally refresh_token (got {settings.grant_types})")
    if [r for r in settings.response_types if r not in RESPONSE_TYPES] or not settings.response_types:
        problems.append("response_types: only code is supported")
    scopes = settings.scope.split()
    unknown = [s for s in scopes if s not in SCOPES and s not in RESTRICTED_SCOPE_CLAIMS]
    if unknown or "openid" not in scopes:
        problems.append(f"scope: must contain openid, among {' '.join(SCOPES)} (unknown: {' '.join(unknown)})")
    restricted = [s for s in scopes if s in RESTRICTED_SCOPE_CLAIMS]
    if restricted and not settings.first_party:
        problems.append(f"scope: {' '.join(restricted)} only for a first-party client")
    subject_type = settings.subject_type or ("public" if settings.first_party else "pairwise")
    if subject_type not in SUBJECT_TYPES:
        problems.append("subject_type: public or pairwise")
    if settings.id_token_signed_response_alg not in SIGNING_ALGS:
        problems.append(f"id_token_signed_response_alg: one of {', '.join(SIGNING_ALGS)}")
    if settings.userinfo_signed_response_alg not in (None, *SIGNING_ALGS):
        problems.append(f"userinfo_signed_response_alg: one of {', '.join(SIGNING_ALGS)}")
    if method == "private_key_jwt":
        problems.extend(_jwks_problems(settings.jwks))
    elif settings.jwks is not None:
        problems.append("jwks: only for private_key_jwt clients")
    hosts = {urlsplit(u).hostname for u in settings.redirect_uris if isinstance(u, str)}
    if subject_type == "pairwise" and not settings.sector_identifier and len(hosts) > 1:
        problems.append("subject_type pairwise: redirect URIs on several hosts need a sector identifier")
    for name in ("access_token_ttl", "refresh_token_ttl", "id_token_ttl"):
        value = getattr(settings, name)
        if value is not None and not 1 <= int(value) <= 30 * 86400:
            problems.append(f"{name}: between 1 second and 30 days")
    return problems


def _service_problems(settings: ClientSettings, allowed_scopes: Collection[str]) -> list[str]:
    """A ministry service: client_credentials alone, a confidential client, no redirection, no voter's scope."""
    problems: list[str] = []
    method = settings.token_endpoint_auth_method
    if settings.grant_types != [SERVICE_GRANT_TYPE]:
        problems.append("grant_types: client_credentials goes alone (a service signs no voter in)")
    if method == "none":
        problems.append("token_endpoint_auth_method: a client_credentials client must authenticate (not none)")
    if settings.redirect_uris or settings.post_logout_redirect_uris or settings.backchannel_logout_uri:
        problems.append("client_credentials: no redirect_uris for a service (it is never redirected)")
    if settings.response_types:
        problems.append("response_types: none for a client_credentials client")
    if settings.userinfo_signed_response_alg is not None:
        problems.append("userinfo_signed_response_alg: a client_credentials client has no userinfo")
    if settings.id_token_claims:
        problems.append("id_token_claims: a client_credentials client gets no ID token")
    scopes = settings.scope.split()
    outside = [s for s in scopes if s not in allowed_scopes]
    if not scopes or outside:
        listed = " ".join(allowed_scopes) or "none: set IDP_SERVICE_SCOPES"
        problems.append(f"scope: at least one, among the service scopes ({listed}); not allowed: {' '.join(outside)}")
    if method == "private_key_jwt":
        problems.extend(_jwks_problems(settings.jwks))
    elif settings.jwks is not None:
        problems.append("jwks: only for private_key_jwt clients")
    if settings.access_token_ttl is not None and not 1 <= int(settings.access_token_ttl) <= 86400:
        problems.append("access_token_ttl: between 1 second and 1 day")
    return problems


def _jwks_problems(jwks: dict[str, Any] | None) -> list[str]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        return ["jwks: a JWK Set with at least one public key is required for private_key_jwt"]
    if any(not isinstance(k, dict) or "d" in k or "p" in k or "k" in k for k in jwks["keys"]):
        return ["jwks: must hold public keys only"]
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        return [f"jwks: not a valid JWK Set ({type(exc).__name__})"]
    return []


def uses_secret(method: str) -> bool:
    return method in ("client_secret_basic", "client_secret_post")


def create(
    session: Session,
    settings: ClientSettings,
    config: Mapping[str, Any],
    *,
    registered_by: str = "cli",
    allow_http: bool = False,
    secret: str | None = None,
) -> tuple[OidcClient, str | None]:
    """Register a client; return it and its secret (shown once, then only its digest exists).

    ``secret`` is the one to use (RFC 7591 registration generates it first); by default a new one is drawn.
    """
    problems = validate(settings, allow_http=allow_http, service_scopes=service_scopes(config))
    if settings.client_id and find(session, settings.client_id) is not None:
        problems.append(f"client_id {settings.client_id!r} is already registered")
    if problems:
        raise ClientSettingsError(problems)
    method = settings.token_endpoint_auth_method
    secret = (secret or new_secret()) if uses_secret(method) else None
    client = OidcClient(
        client_id=settings.client_id or new_identifier(16),
        client_secret_hash=digest(secret) if secret else None,
        client_name=settings.client_name,
        redirect_uris=list(settings.redirect_uris),
        post_logout_redirect_uris=list(settings.post_logout_redirect_uris),
        backchannel_logout_uri=settings.backchannel_logout_uri,
        grant_types=list(dict.fromkeys(settings.grant_types)),
        response_types=list(dict.fromkeys(settings.response_types)),
        token_endpoint_auth_method=method,
        scope=" ".join(dict.fromkeys(settings.scope.split())),
        first_party=settings.first_party,
        # A service's tokens carry no subject: the column keeps its default meaning.
        subject_type=settings.subject_type
        or ("public" if settings.first_party or SERVICE_GRANT_TYPE in settings.grant_types else "pairwise"),
        sector_identifier=settings.sector_identifier,
        sector_identifier_uri=settings.sector_identifier_uri,
        id_token_signed_response_alg=settings.id_token_signed_response_alg,
        userinfo_signed_response_alg=settings.userinfo_signed_response_alg,
        id_token_claims=settings.id_token_claims,
        jwks=settings.jwks,
        access_token_ttl=settings.access_token_ttl or int(config["ACCESS_TOKEN_TTL"]),
        refresh_token_ttl=settings.refresh_token_ttl or int(config["REFRESH_TOKEN_TTL"]),
        id_token_ttl=settings.id_token_ttl or int(config["ID_TOKEN_TTL"]),
        registered_by=registered_by,
    )
    session.add(client)
    session.flush()
    return client, secret


#: Built once: every request of a client runs it, and building a statement costs about as much as running it.
_BY_CLIENT_ID = select(OidcClient).where(OidcClient.client_id == bindparam("client_id"))


def find(session: Session, client_id: str) -> OidcClient | None:
    """A client by id, disabled or not."""
    if not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id):
        return None
    return session.execute(_BY_CLIENT_ID, {"client_id": client_id}).scalar_one_or_none()


def find_active(session: Session, client_id: str) -> OidcClient | None:
    client = find(session, client_id)
    return client if client is not None and not client.is_disabled else None


def disable(session: Session, client: OidcClient) -> None:
    """Disable a client: it can no longer sign voters in, and its tokens stop working (checked on use)."""
    if client.disabled_at is None:
        client.disabled_at = utcnow()
