"""The portal's OpenID Connect client: Authlib's Flask OAuth client, configured through discovery.

One :class:`authlib.integrations.flask_client.OAuth` registry per application (``app.extensions``), so two portal
instances side by side never share metadata or keys. The provider's metadata and JWKS are fetched on first use and
cached per process; a token signed with a key the cache does not know makes Authlib fetch the JWKS again (key
rotation at the IdP).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

CLIENT_NAME = "idp"


def init_app(app: Flask) -> None:
    cfg = app.config
    oauth = OAuth(app)
    issuer = str(cfg["IDP_ISSUER"]).rstrip("/")
    oauth.register(
        CLIENT_NAME,
        client_id=cfg["CLIENT_ID"],
        client_secret=cfg["CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": cfg["SCOPES"],
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": int(cfg["HTTP_TIMEOUT"]),
        },
    )


def get_client(app: Flask | None = None) -> Any:
    """The registered client (an ``authlib.integrations.flask_client.FlaskOAuth2App``; Authlib is untyped)."""
    oauth = cast("OAuth", (app or current_app).extensions["authlib.integrations.flask_client"])
    return oauth.create_client(CLIENT_NAME)


def issuer(app: Flask | None = None) -> str:
    return str((app or current_app).config["IDP_ISSUER"]).rstrip("/")


def idp_origin(issuer_url: str) -> str:
    parts = urlsplit(issuer_url)
    return f"{parts.scheme}://{parts.netloc}"


class IssuerMismatch(RuntimeError):
    """The discovery document names another issuer than the configured one (mix-up or misconfiguration)."""


def metadata() -> dict[str, Any]:
    """The provider's metadata, checked once against ``PORTAL_IDP_ISSUER`` (OIDC Discovery 4.3)."""
    data = cast("dict[str, Any]", get_client().load_server_metadata())
    if str(data.get("issuer", "")).rstrip("/") != issuer():
        raise IssuerMismatch("the provider's metadata names another issuer than PORTAL_IDP_ISSUER")
    return data


def url_for_public(path: str) -> str:
    """An absolute URL of the portal built from ``PORTAL_PUBLIC_URL``, never from the Host header."""
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path
