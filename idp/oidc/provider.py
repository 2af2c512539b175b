"""The OpenID Provider of one application: its Authlib server, its keys, and the places other code plugs into.

Kept in ``app.extensions["idp.oidc"]`` (no module-level state), so two applications side by side are independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from idp.auth.state import ACR_VOTE_CODE
from idp.oidc.keys import KeyManager
from idp.web import CSP
from infra.application import is_production
from infra.headers import security_headers

if TYPE_CHECKING:
    from idp.oidc.lean import LeanEndpoints
    from idp.oidc.published import PublishedDocuments
    from idp.oidc.server import AuthorizationServer

EXTENSION_KEY = "idp.oidc"

#: Scopes the provider understands, and the claims each one releases (userinfo).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "gender", "birthdate"),
    "email": ("email", "email_verified"),
    "academie": ("academie",),
}
SCOPES = tuple(SCOPE_CLAIMS)
#: Scopes only a first-party client registered by an operator may hold (never through RFC 7591 registration,
#: which keeps SCOPES only), not advertised in discovery: ``audit`` releases the account's ``roles`` (the
#: auditors' console lets in only accounts whose roles include "auditor").
RESTRICTED_SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {"audit": ("roles",)}
DEFAULT_CLIENT_SCOPE = "openid profile email academie"

#: Default step-up screens: an ``acr`` the voter's session does not reach is obtained by sending the browser to
#: this endpoint (with ``next`` = where to resume), when the application has it (an application built without the
#: vote-code screen answers a request for that level as unsatisfiable).
DEFAULT_STEP_UP_ENDPOINTS: dict[str, str] = {ACR_VOTE_CODE: "stepup.vote_code"}


class Provider:
    #: Authlib's server and the discovery and JWKS documents serialised once (:mod:`idp.oidc.published`), built on
    #: this provider by :func:`idp.oidc.init_app` (they need the provider first).
    server: AuthorizationServer
    documents: PublishedDocuments
    #: The WSGI middleware answering the common case of userinfo and introspection before Flask.
    lean: LeanEndpoints

    def __init__(self, app: Flask) -> None:
        self.config: Mapping[str, Any] = app.config
        self.keys = KeyManager(self.config)
        #: acr -> endpoint of the screen that raises a session to it (see :meth:`step_up_endpoint`).
        self.step_up_endpoints: dict[str, str] = dict(DEFAULT_STEP_UP_ENDPOINTS)

    def security_headers(self) -> list[tuple[str, str]]:
        """The headers of every IdP page, for the documents served without Flask (:mod:`idp.oidc.published`)."""
        return security_headers(csp=CSP, hsts=is_production(self.config))

    @property
    def issuer(self) -> str:
        return str(self.config["PUBLIC_URL"]).rstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL of one of the provider's endpoints, built from the issuer (never from the Host header)."""
        return self.issuer + path

    def step_up_endpoint(self, acr: str, app: Flask) -> str | None:
        """The screen that raises a session to ``acr``, if this application has it."""
        endpoint = self.step_up_endpoints.get(acr)
        if endpoint and endpoint in app.view_functions:
            return endpoint
        return None


def get_provider(app: Flask | None = None) -> Provider:
    provider = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(provider, Provider)
    return provider
