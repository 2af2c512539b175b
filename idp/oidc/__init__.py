"""The OpenID Provider: Authlib's authorization server on the IdP's models, keys and sign-in screens.

``init_app`` builds the provider of one application (kept in ``app.extensions``, no global state) and joins the
IdP's sign-out (:mod:`idp.auth.signout`); ``register_blueprints`` adds its endpoints. Both are called from
:func:`idp.create_app`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.auth.signout import on_session_end
from idp.db import get_db
from idp.oidc import csp
from idp.oidc.lean import LeanEndpoints
from idp.oidc.logout import end_client_sessions_of_browser
from idp.oidc.provider import EXTENSION_KEY, Provider
from idp.oidc.published import FastPath, PublishedDocuments
from idp.oidc.server import build_server
from idp.oidc.views import register
from infra.observability import RequestObserver


def init_app(app: Flask) -> Provider:
    provider = Provider(app)
    provider.server = build_server(app, provider)
    provider.documents = PublishedDocuments(provider, provider.security_headers)
    # Key writes through this application's sessions drop its key snapshot at once (no listener on the global Session).
    provider.keys.writes.watch(get_db(app).sessionmaker)
    app.extensions[EXTENSION_KEY] = provider
    csp.init_app(app)
    # The request observer's first answer (infra.observability): the documents' requests are counted and logged too,
    # and nothing else runs for them.
    outer = app.wsgi_app
    if isinstance(outer, RequestObserver):
        outer.first = FastPath(outer.wsgi_app, provider.documents).answer
    else:
        app.wsgi_app = FastPath(outer, provider.documents)  # type: ignore[method-assign]
    _install_lean_endpoints(app, provider)
    on_session_end(app, end_client_sessions_of_browser)
    return provider


def _install_lean_endpoints(app: Flask, provider: Provider) -> None:
    """:class:`LeanEndpoints` just in front of Flask's own WSGI callable: behind the trusted-proxy fix (it needs the
    client's scheme and host), inside the request observer and the documents' fast path."""
    lean = LeanEndpoints(
        app.wsgi_app,
        get_db(app),
        provider=provider,
        security_headers=provider.security_headers,
        audit_chains=int(app.config["AUDIT_CHAINS"]),
    )
    holder: Any = app
    attribute = "wsgi_app"
    while True:
        inner = getattr(holder, attribute)
        if isinstance(inner, RequestObserver | FastPath):
            holder, attribute = inner, ("wsgi_app" if isinstance(inner, RequestObserver) else "app")
        elif isinstance(inner, ProxyFix):
            holder, attribute = inner, "app"
        else:
            break
    lean.app = getattr(holder, attribute)
    setattr(holder, attribute, lean)
    provider.lean = lean


def register_blueprints(app: Flask) -> None:
    register(app)
