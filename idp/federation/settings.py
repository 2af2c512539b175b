"""The federation's settings (``IDP_FC_*``), read once from the application's configuration and checked.

The checks live here rather than in :func:`idp.config.validate` so that everything about the federation is in one
package; they run when the federation's blueprint is registered, so a misconfigured IdP refuses to start with a
message naming the variable, instead of failing at a voter's first click.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Claims the matching needs; a scope list that does not ask for them could never match anyone.
REQUIRED_SCOPES = ("openid", "given_name", "family_name", "birthdate", "birthplace", "birthcountry")


class FederationConfigError(ValueError):
    """An ``IDP_FC_*`` setting the federation cannot work with; the message names the variable."""


@dataclass(frozen=True)
class FederationSettings:
    enabled: bool
    issuer: str
    internal_base_url: str | None
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    sign_in_enough: bool
    http_timeout: float
    public_url: str

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def internal(self, url: str) -> str:
        """The address the IdP itself uses for a provider URL: under the internal base when one is set.

        Only server-to-server calls go through it (discovery, token, userinfo, JWKS); the browser is always sent to
        the public addresses the discovery document gives (authorization, end session).
        """
        if self.internal_base_url and url.startswith(self.issuer):
            return self.internal_base_url + url[len(self.issuer) :]
        return url

    @property
    def discovery_url(self) -> str:
        return (self.internal_base_url or self.issuer) + "/.well-known/openid-configuration"

    def public(self, path: str) -> str:
        """Absolute URL of one of the IdP's own paths (the callback and the logged-out page the provider knows)."""
        return self.public_url.rstrip("/") + path


def _http_url(name: str, value: Any, *, production: bool) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FederationConfigError(f"IDP_{name} must be an absolute http(s) URL, got {text!r}")
    if parts.query or parts.fragment or text.endswith("/"):
        raise FederationConfigError(f"IDP_{name} must have no query, fragment or trailing slash")
    if production and parts.scheme != "https":
        raise FederationConfigError(f"IDP_{name} must be an https URL in production")
    return text


def load_settings(config: Mapping[str, Any]) -> FederationSettings:
    """The settings of an application; raises :class:`FederationConfigError` when enabled but unusable."""
    enabled = bool(config.get("FC_ENABLED"))
    scopes = tuple(dict.fromkeys(str(config.get("FC_SCOPES") or "").split()))
    try:
        timeout = float(config.get("FC_HTTP_TIMEOUT") or 0)
    except (TypeError, ValueError):
        raise FederationConfigError("IDP_FC_HTTP_TIMEOUT must be a number of seconds") from None
    if not enabled:
        return FederationSettings(
            False,
            str(config.get("FC_ISSUER") or ""),
            None,
            "",
            "",
            scopes,
            bool(config.get("FC_SIGN_IN_ENOUGH")),
            timeout or 4.0,
            str(config["PUBLIC_URL"]),
        )
    production = config.get("ENV") == "production"
    issuer = _http_url("FC_ISSUER", config.get("FC_ISSUER"), production=production)
    internal = config.get("FC_INTERNAL_BASE_URL") or None
    if internal is not None:
        # The internal base may be plain http inside a private network (docker-compose) even in production.
        internal = _http_url("FC_INTERNAL_BASE_URL", internal, production=False)
    client_id = str(config.get("FC_CLIENT_ID") or "")
    secret = str(config.get("FC_CLIENT_SECRET") or "")
    if not client_id:
        raise FederationConfigError("IDP_FC_CLIENT_ID is required when IDP_FC_ENABLED is true")
    if not secret:
        raise FederationConfigError(
            "IDP_FC_CLIENT_SECRET is required when IDP_FC_ENABLED is true (or IDP_FC_CLIENT_SECRET_FILE)"
        )
    missing = [scope for scope in REQUIRED_SCOPES if scope not in scopes]
    if missing:
        raise FederationConfigError(
            f"IDP_FC_SCOPES must include {', '.join(missing)}: the matching of a voter needs these claims"
        )
    if not 0 < timeout <= 60:
        raise FederationConfigError("IDP_FC_HTTP_TIMEOUT must be more than 0 and at most 60 seconds")
    return FederationSettings(
        True,
        issuer,
        internal,
        client_id,
        secret,
        scopes,
        bool(config.get("FC_SIGN_IN_ENOUGH")),
        timeout,
        str(config["PUBLIC_URL"]),
    )
