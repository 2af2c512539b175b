"""The IdP's web plumbing, from :mod:`infra`: server-side sessions, CSRF, security headers, error pages, health;
and the client address every throttle counts by."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from infra import errors, headers, health, sessions
from infra.store import EphemeralStore

#: The IdP's pages play the audio CAPTCHA (``media-src``); forms may lead to a client only during an authorization
#: (:mod:`idp.oidc.csp` widens ``form-action`` then).
CSP = headers.content_security_policy(directives={"media-src": "'self'"})


def init_app(app: Flask, store: EphemeralStore, *, hsts: bool) -> None:
    cfg = app.config
    sessions.install(app, store, cfg["SESSION_IDLE_TIMEOUT"], cfg["SESSION_ABSOLUTE_TIMEOUT"])
    CSRFProtect(app)
    headers.install(app, csp=CSP, hsts=hsts)
    errors.install(
        app,
        template="idp/error.html",
        expired_form=(
            "Session expirée",
            "Votre page a expiré ou a été ouverte dans un autre onglet. Recommencez depuis le début.",
        ),
    )
    health.install(app)


def client_address() -> str:
    """The client's address as the IdP sees it (behind ``IDP_TRUSTED_PROXIES``), for per-address throttling."""
    return request.remote_addr or "unknown"
