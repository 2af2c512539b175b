"""The identity provider of Portail Élections: an OpenID Provider on Authlib and Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from captcha_challenge.views import image_before_flask
from idp import config as config_module
from idp import oidc, store, web
from idp.audit import bind_chains
from idp.auth import activation_views, views
from idp.captcha import CaptchaService
from idp.captcha import views as captcha_views
from idp.delivery import views as delivery_views
from idp.federation import views as federation_views
from idp.migrate import check_current
from idp.plugins import enabled_plugins, links_for, load_plugins, plugin_settings
from idp.security.hashing import SecretHasher
from idp.security.keyed import KeyedHasher
from idp.store import get_store
from idp.votecode import views as votecode_views
from infra import gc_tuning
from infra.application import is_production, new_app
from infra.db import Database
from infra.headers import security_headers
from infra.observability import answer_first
from templates import FOLDERS, dsfr

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``IDP_*`` environment variables, then ``config``."""
    settings = config_module.load(environ, config)
    config_module.validate(settings)
    # The plugins and their own settings are found and checked before anything is built (no engine to close).
    plugins = enabled_plugins(settings)
    settings.update(plugin_settings(plugins, environ, config))
    app = new_app(__name__, settings, max_content_length=1024 * 1024, **FOLDERS, instance_relative_config=True)

    database = Database(settings["DATABASE_URL"])
    database.init_app(app, request_session="writer")
    bind_chains(database, int(settings["AUDIT_CHAINS"]))
    if not settings["SKIP_SCHEMA_CHECK"]:
        check_current(database.engine)

    _init_services(app, database)
    _init_web(app, hsts=is_production(settings))
    _register_blueprints(app, development=settings["ENV"] == "development")
    # The CAPTCHA image's GET before Flask: the route's own answer, without the work of a Flask request around it.
    image_headers = security_headers(csp=web.CSP, hsts=is_production(settings))
    answer_first(app, image_before_flask(app.extensions["idp.captcha"], image_headers))

    load_plugins(app, plugins)
    gc_tuning.freeze_loaded(environ)  # the app and its imports out of the collector's walks
    return app


def _init_services(app: Flask, database: Database) -> None:
    cfg = app.config
    ephemeral = store.build_store(cfg, database.engine)
    store.init_app(app, ephemeral)
    app.extensions["idp.hasher"] = SecretHasher(
        cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"]
    )
    app.extensions["idp.keyed"] = KeyedHasher(cfg["HMAC_KEY"])
    app.extensions["idp.captcha"] = CaptchaService(
        ephemeral, cfg["CAPTCHA_BACKEND"], cfg["CAPTCHA_TTL"], cfg["CAPTCHA_LENGTH"]
    )
    # The OpenID Provider: Authlib server, keys, CSP of form posts. Its response hook is registered before the
    # security headers' (idp.web), so that it runs after them (Flask runs them in reverse order).
    oidc.init_app(app)


def _init_web(app: Flask, *, hsts: bool) -> None:
    web.init_app(app, get_store(app), hsts=hsts)
    app.jinja_env.globals["plugin_links"] = links_for
    app.jinja_env.globals["app_name"] = "Portail Élections"
    dsfr.init_app(app, app.config["DSFR_DIR"])  # the design system's static files, linked by base.html


def _register_blueprints(app: Flask, *, development: bool) -> None:
    app.register_blueprint(views.bp)
    app.register_blueprint(activation_views.bp)
    app.register_blueprint(captcha_views.bp)
    app.register_blueprint(votecode_views.bp)  # the vote-code step (stepup.vote_code)
    oidc.register_blueprints(app)  # /authorize, /token, userinfo, discovery, JWKS, logout, registration
    app.register_blueprint(federation_views.bp)  # FranceConnect-style federation (/federation/...)
    if development:
        app.register_blueprint(delivery_views.bp)
