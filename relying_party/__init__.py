"""The voter portal of Portail Élections: an OpenID Connect relying party of the IdP.

It knows voters only through the tokens and claims the IdP gives it (it never imports ``idp``), keeps its own
database (elections, rolls, ballot box, émargement, requests, outbox) and server-side sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from relying_party import config as config_module
from relying_party.db import Database

logger = logging.getLogger(__name__)

APP_NAME = "Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``PORTAL_*`` environment variables, then ``config``."""
    from templates import STATIC_DIR, TEMPLATE_DIR

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = Flask(__name__, template_folder=str(TEMPLATE_DIR), static_folder=str(STATIC_DIR))
    app.config.update(settings)
    development = settings["ENV"] in {"development", "testing"}
    app.config.update(
        SESSION_COOKIE_NAME=settings["SESSION_COOKIE_NAME"],
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the IdP's redirect back to /connexion/retour is a cross-site navigation that must carry
        # the session holding state, nonce and PKCE verifier.
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_I18N_ENABLED=False,  # WTForms' own French messages (PortalForm.Meta.locales), no Flask-Babel
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    if int(settings.get("TRUSTED_PROXIES") or 0):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=int(settings["TRUSTED_PROXIES"]),
            x_proto=1,
            x_host=1,
        )

    from relying_party.audit.pseudonym import audit_key

    database = Database(settings["DATABASE_URL"], audit_key=audit_key(settings))
    database.init_app(app)
    if not settings["SKIP_SCHEMA_CHECK"]:
        from relying_party.migrate import check_current

        check_current(database.engine)
    _init_web(app, database, hsts=not development)
    _register_blueprints(app)
    return app


def _init_web(app: Flask, database: Database, *, hsts: bool) -> None:
    from relying_party import store
    from relying_party.signin import client
    from relying_party.web import errors, headers
    from relying_party.web.sessions import StoreSessionInterface

    cfg = app.config
    ephemeral = store.build_store(dict(cfg), database.engine)
    store.init_app(app, ephemeral)
    app.session_interface = StoreSessionInterface(
        ephemeral, cfg["SESSION_IDLE_TIMEOUT"], cfg["SESSION_ABSOLUTE_TIMEOUT"]
    )
    client.init_app(app)
    csrf = CSRFProtect(app)
    app.extensions["portal.csrf"] = csrf
    headers.init_app(app, hsts=hsts, form_action=client.idp_origin(str(cfg["IDP_ISSUER"])))
    errors.init_app(app)
    app.jinja_env.globals["app_name"] = APP_NAME
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, cfg["DSFR_DIR"])


def _register_blueprints(app: Flask) -> None:
    from relying_party.pages import requests_views, views
    from relying_party.signin import backchannel
    from relying_party.signin import views as signin_views
    from relying_party.voting import views as voting_views
    from relying_party.web import assets, health

    csrf: CSRFProtect = app.extensions["portal.csrf"]
    # The IdP posts logout tokens server to server: no browser, no session, no CSRF token; the signed token is
    # the proof.
    csrf.exempt(backchannel.bp)
    for blueprint in (
        views.bp,
        requests_views.bp,
        signin_views.bp,
        voting_views.bp,
        backchannel.bp,
        health.bp,
        assets.bp,
    ):
        app.register_blueprint(blueprint)
