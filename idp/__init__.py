"""The identity provider of Portail Élections: an OpenID Provider on Authlib and Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from idp import config as config_module
from idp.db import Database

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``IDP_*`` environment variables, then ``config``."""
    from templates import STATIC_DIR, TEMPLATE_DIR

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = Flask(
        __name__, template_folder=str(TEMPLATE_DIR), static_folder=str(STATIC_DIR), instance_relative_config=True
    )
    app.config.update(settings)
    development = settings["ENV"] in {"development", "testing"}
    app.config.update(
        SESSION_COOKIE_NAME=settings["SESSION_COOKIE_NAME"],
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if int(settings.get("TRUSTED_PROXIES") or 0):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=int(settings["TRUSTED_PROXIES"]),
            x_proto=1,
            x_host=1,
        )

    database = Database(settings["DATABASE_URL"])
    database.init_app(app)
    if not settings["SKIP_SCHEMA_CHECK"]:
        from idp.migrate import check_current

        check_current(database.engine)

    _init_services(app, database)
    _init_web(app, hsts=not development)
    _register_blueprints(app, development=settings["ENV"] == "development")

    from idp.plugins import load_plugins

    load_plugins(app)
    return app


def _init_services(app: Flask, database: Database) -> None:
    from idp import store
    from idp.captcha import CaptchaService
    from idp.security.hashing import SecretHasher
    from idp.security.keyed import KeyedHasher

    cfg = app.config
    ephemeral = store.build_store(dict(cfg), database.engine)
    store.init_app(app, ephemeral)
    app.extensions["idp.hasher"] = SecretHasher(
        cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"]
    )
    app.extensions["idp.keyed"] = KeyedHasher(cfg["HMAC_KEY"])
    app.extensions["idp.captcha"] = CaptchaService(
        ephemeral, cfg["CAPTCHA_BACKEND"], cfg["CAPTCHA_TTL"], cfg["CAPTCHA_LENGTH"]
    )
    from idp import oidc  # the OpenID Provider: Authlib server, keys, CSP of form posts

    oidc.init_app(app)


def _init_web(app: Flask, *, hsts: bool) -> None:
    from idp.plugins import links_for
    from idp.store import get_store
    from idp.web import errors, headers
    from idp.web.sessions import StoreSessionInterface

    app.session_interface = StoreSessionInterface(
        get_store(app), app.config["SESSION_IDLE_TIMEOUT"], app.config["SESSION_ABSOLUTE_TIMEOUT"]
    )
    CSRFProtect(app)
    headers.init_app(app, hsts=hsts)
    errors.init_app(app)
    app.jinja_env.globals["plugin_links"] = links_for
    app.jinja_env.globals["app_name"] = "Portail Élections"
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, app.config["DSFR_DIR"])


def _register_blueprints(app: Flask, *, development: bool) -> None:
    from idp.auth import activation_views, views
    from idp.captcha import views as captcha_views
    from idp.web import health

    app.register_blueprint(views.bp)
    app.register_blueprint(activation_views.bp)
    app.register_blueprint(captcha_views.bp)
    from idp.votecode import views as votecode_views  # the vote-code step (stepup.vote_code)

    app.register_blueprint(votecode_views.bp)
    from idp import oidc  # /authorize, /token, userinfo, discovery, JWKS, logout, registration

    oidc.register_blueprints(app)
    from idp.federation import views as federation_views  # FranceConnect-style federation (/federation/...)

    app.register_blueprint(federation_views.bp)
    app.register_blueprint(health.bp)
    if development:
        from idp.delivery import views as delivery_views

        app.register_blueprint(delivery_views.bp)
