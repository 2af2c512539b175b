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

from infra import gc_tuning, headers, health, oidc_client, sessions
from infra.application import is_production, new_app
from relying_party import config as config_module
from relying_party.db import Database

logger = logging.getLogger(__name__)

APP_NAME = "Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``PORTAL_*`` environment variables, then ``config``."""
    from templates import FOLDERS

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = new_app(__name__, settings, max_content_length=256 * 1024, name="portal", **FOLDERS)
    app.config["WTF_I18N_ENABLED"] = False  # WTForms' own French messages (PortalForm.Meta.locales), no Flask-Babel

    from relying_party.audit.pseudonym import audit_key

    database = Database(settings["DATABASE_URL"], audit_key=audit_key(settings))
    database.init_app(app)
    from relying_party.elections import catalogue

    catalogue.init_app(app, database)
    if not settings["SKIP_SCHEMA_CHECK"]:
        from relying_party.migrate import check_current

        check_current(database.engine)
    _init_web(app, database, hsts=is_production(settings))
    _register_blueprints(app)
    gc_tuning.freeze_loaded(environ)  # the app and its imports out of the collector's walks
    return app


def _init_web(app: Flask, database: Database, *, hsts: bool) -> None:
    from relying_party import store
    from relying_party.signin.identity import session_tags
    from relying_party.web import errors

    cfg = app.config
    ephemeral = store.build_store(cfg, database.engine)
    store.init_app(app, ephemeral)
    sessions.install(app, ephemeral, cfg["SESSION_IDLE_TIMEOUT"], cfg["SESSION_ABSOLUTE_TIMEOUT"], tags=session_tags)
    issuer = str(cfg["IDP_ISSUER"])
    oidc_client.init_app(
        app,
        issuer=issuer,
        client_id=str(cfg["CLIENT_ID"]),
        client_secret=str(cfg["CLIENT_SECRET"]),
        scopes=str(cfg["SCOPES"]),
        timeout=int(cfg["HTTP_TIMEOUT"]),
        public_url=str(cfg["PUBLIC_URL"]),
        issuer_setting="PORTAL_IDP_ISSUER",
    )
    from relying_party.web import captcha

    captcha.init_app(app, ephemeral)
    csrf = CSRFProtect(app)
    app.extensions["portal.csrf"] = csrf
    # Signing out is a POST answered by a redirect to the IdP's end-session endpoint: the IdP's origin is a
    # form-action source.
    csp = headers.content_security_policy(form_action=[headers.origin_of(issuer) or ""])
    headers.install(app, csp=csp, hsts=hsts)
    errors.init_app(app)
    health.install(app)
    app.jinja_env.globals["app_name"] = APP_NAME
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, cfg["DSFR_DIR"])
    from templates import dsfr_chart, figures

    dsfr_chart.init_app(app, cfg["DSFR_DIR"])
    figures.init_app(app)
    from relying_party.web import ballot_js

    ballot_js.init_app(app, cfg["BALLOT_JS_DIR"])


def _register_blueprints(app: Flask) -> None:
    from relying_party.pages import participation, requests_views, views
    from relying_party.signin import backchannel
    from relying_party.signin import views as signin_views
    from relying_party.voting import board
    from relying_party.voting import views as voting_views
    from relying_party.web import assets, captcha

    csrf: CSRFProtect = app.extensions["portal.csrf"]
    # The IdP posts logout tokens server to server: no browser, no session, no CSRF token; the signed token is
    # the proof.
    csrf.exempt(backchannel.bp)
    for blueprint in (
        views.bp,
        participation.bp,
        requests_views.bp,
        signin_views.bp,
        voting_views.bp,
        board.bp,
        backchannel.bp,
        assets.bp,
        captcha.bp,
    ):
        app.register_blueprint(blueprint)
