"""The identity provider of Portail Élections: an OpenID Provider on Authlib and Flask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from idp import config as config_module
from infra.application import is_production, new_app
from infra.db import Database

logger = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``IDP_*`` environment variables, then ``config``."""
    from templates import FOLDERS

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = new_app(__name__, settings, max_content_length=1024 * 1024, **FOLDERS, instance_relative_config=True)

    database = Database(settings["DATABASE_URL"])
    database.init_app(app, request_session="writer")
    if not settings["SKIP_SCHEMA_CHECK"]:
        from idp.migrate import check_current

        check_current(database.engine)

    _init_services(app, database)
    _init_web(app, hsts=is_production(settings))
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
    from idp import oidc

    oidc.init_app(app)


def _init_web(app: Flask, *, hsts: bool) -> None:
    from idp import web
    from idp.plugins import links_for
    from idp.store import get_store

    web.init_app(app, get_store(app), hsts=hsts)
    app.jinja_env.globals["plugin_links"] = links_for
    app.jinja_env.globals["app_name"] = "Portail Élections"
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, app.config["DSFR_DIR"])


def _register_blueprints(app: Flask, *, development: bool) -> None:
    from idp.auth import activation_views, views
    from idp.captcha import views as captcha_views

    app.register_blueprint(views.bp)
    app.register_blueprint(activation_views.bp)
    app.register_blueprint(captcha_views.bp)
    from idp.votecode import views as votecode_views  # the vote-code step (stepup.vote_code)

    app.register_blueprint(votecode_views.bp)
    from idp import oidc  # /authorize, /token, userinfo, discovery, JWKS, logout, registration

    oidc.register_blueprints(app)
    from idp.federation import views as federation_views  # FranceConnect-style federation (/federation/...)

    app.register_blueprint(federation_views.bp)
    if development:
        from idp.delivery import views as delivery_views

        app.register_blueprint(delivery_views.bp)
