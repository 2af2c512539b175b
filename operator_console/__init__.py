"""The operators' console, « Console des opérateurs »: a small Flask application, an OpenID Connect client of the
IdP, that shows operator accounts how the election is going (turnout, sign-ins and their failures, lockouts, the
réassort funnel, the outbox and deliveries), and changes nothing.

It reads two databases through read-only connections and their apps' published reading modules: the IdP's
(:mod:`idp.operations`, :mod:`idp.models`) and the portal's (:mod:`relying_party.turnout`). Reading the databases,
rather than calling a JSON endpoint on each app, keeps the web processes that voters use out of the console's path,
adds no endpoint or secret to protect on them, and lets a PostgreSQL role grant exactly the columns the console
counts (``operator_console/readonly_roles.sql``); the queries are bounded and counted in the database. What it keeps
of its own (sessions, the figures it counted) lives in its ephemeral store: Redis, or a database of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from infra import oidc_client, sessions
from infra.application import is_production, new_app
from infra.db import Database, read_only_engine
from infra.store import build_store, init_app, redis_settings
from infra.store.sql import SQLStore
from operator_console import config as config_module

APP_NAME = "Console des opérateurs – Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``OPERATOR_CONSOLE_*`` environment variables, then ``config``."""
    from templates import FOLDERS

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = new_app(__name__, settings, max_content_length=64 * 1024, name="operator_console", **FOLDERS)
    url = str(settings["DATABASE_URL"])
    Database(url, engine=read_only_engine(url, setting="OPERATOR_CONSOLE_DATABASE_URL")).init_app(app)
    from operator_console import figures

    figures.init_app(app)
    redis = redis_settings(settings)
    prefix = str(settings["REDIS_PREFIX"])
    store = build_store(redis, prefix) if redis else SQLStore.standalone(str(settings["EPHEMERAL_DATABASE_URL"]))
    init_app(app, store)
    lifetime = int(settings["SESSION_LIFETIME"])
    sessions.install(app, store, lifetime, lifetime)
    oidc_client.init_app(
        app,
        issuer=str(settings["IDP_ISSUER"]),
        client_id=str(settings["CLIENT_ID"]),
        client_secret=str(settings["CLIENT_SECRET"]),
        scopes=str(settings["SCOPES"]),
        timeout=int(settings["HTTP_TIMEOUT"]),
        public_url=str(settings["PUBLIC_URL"]),
        issuer_setting="OPERATOR_CONSOLE_IDP_ISSUER",
    )
    CSRFProtect(app)

    from operator_console import signin, views, web
    from templates import dsfr, dsfr_chart
    from templates import figures as figure_filters

    web.init_app(app, hsts=is_production(settings))
    app.jinja_env.globals["app_name"] = APP_NAME
    dsfr.init_app(app, settings["DSFR_DIR"])
    dsfr_chart.init_app(app, settings["DSFR_DIR"])
    figure_filters.init_app(app)
    app.jinja_env.globals["idp_issuer"] = str(settings["IDP_ISSUER"]).rstrip("/")
    app.register_blueprint(signin.bp)
    app.register_blueprint(views.bp)
    return app
