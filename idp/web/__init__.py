"""The IdP's web plumbing, from :mod:`infra`: server-side sessions, CSRF, security headers, error pages, health;
the client address every throttle counts by; and the application's hashers, which views, the CLI and the plugin API
fetch here and pass to the services (services never reach for ``current_app``)."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect

from idp.security.hashing import SecretHasher
from idp.security.keyed import KeyedHasher
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


def keyed_hasher(app: Flask | None = None) -> KeyedHasher:
    """The application's keyed hasher (``IDP_HMAC_KEY``): vote codes, links, identity numbers, pseudonyms."""
    value = (app or current_app).extensions["idp.keyed"]
    assert isinstance(value, KeyedHasher)
    return value


def secret_hasher(app: Flask | None = None) -> SecretHasher:
    """The application's argon2id hasher of passwords and secret answers."""
    value = (app or current_app).extensions["idp.hasher"]
    assert isinstance(value, SecretHasher)
    return value
