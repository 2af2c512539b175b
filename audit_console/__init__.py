"""The auditors' console, "Journal d'audit": a small Flask application, an OpenID Connect client of the IdP, that
shows the audit log and the tokens' history to auditor accounts, and changes nothing.

It reads the IdP's database through a read-only connection and :mod:`idp.audit`'s reading functions (it imports
``idp.audit`` and ``idp.models``, nothing that writes). What it keeps of its own, server-side sessions and the last
verification result, lives in its ephemeral store: Redis, or a database of its own (docs/auditors/console.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from audit_console import config as config_module
from infra import oidc_client, sessions
from infra.application import is_production, new_app
from infra.db import Database, read_only_engine
from infra.store import build_store, init_app, redis_settings
from infra.store.sql import SQLStore

APP_NAME = "Journal d'audit – Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``AUDIT_CONSOLE_*`` environment variables, then ``config``."""
    from templates import FOLDERS

    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = new_app(__name__, settings, max_content_length=64 * 1024, **FOLDERS)
    url = str(settings["DATABASE_URL"])
    Database(url, engine=read_only_engine(url, setting="AUDIT_CONSOLE_DATABASE_URL")).init_app(app)
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
        issuer_setting="AUDIT_CONSOLE_IDP_ISSUER",
    )
    CSRFProtect(app)

    from audit_console import signin, views, web

    web.init_app(app, hsts=is_production(settings))
    app.jinja_env.globals["app_name"] = APP_NAME
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, settings["DSFR_DIR"])
    app.jinja_env.globals["idp_issuer"] = str(settings["IDP_ISSUER"]).rstrip("/")
    app.register_blueprint(signin.bp)
    app.register_blueprint(views.bp)
    return app
