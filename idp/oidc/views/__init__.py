"""HTTP endpoints of the OpenID Provider.

Two blueprints: ``oidc`` holds the protocol endpoints, called by clients or reached by redirects from them, and is
exempt from the CSRF check of the IdP's forms (they are authenticated by the protocol itself: client credentials,
tokens, exact redirect URIs); ``oidc_ui`` holds the provider's own forms (consent, logout confirmation), which are
CSRF-protected like every other screen.
"""

from __future__ import annotations

from flask import Flask

from idp.auth.continuation import on_continue
from idp.oidc.views import authorize, discovery, logout, protocol, registration  # noqa: F401 - routes
from idp.oidc.views.blueprints import protocol_bp, ui_bp


def register(app: Flask) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(protocol_bp)
    app.register_blueprint(protocol_bp)
    app.register_blueprint(ui_bp)
    # The password and vote-code screens answer an authorization's resumption themselves (one request fewer).
    on_continue(app, authorize.resume_in_place)
