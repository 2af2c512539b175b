"""The auditors' console, "Journal d'audit": a small Flask application, an OpenID Connect client of the IdP, that
shows the audit log and the tokens' history to auditor accounts, and changes nothing.

It reads the IdP's database through a read-only connection and :mod:`idp.audit`'s reading functions (it imports
``idp.audit`` and ``idp.models``, nothing that writes), and keeps no state of its own but the signed session
cookie and the last verification result (docs/auditors/console.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from audit_console import config as config_module

APP_NAME = "Journal d'audit – Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``AUDIT_CONSOLE_*`` environment variables, then ``config``."""
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
        # Lax: the IdP's redirect back to /connexion/retour is a cross-site navigation carrying state and nonce.
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=int(settings["SESSION_LIFETIME"]),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if int(settings.get("TRUSTED_PROXIES") or 0):
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=int(settings["TRUSTED_PROXIES"]),
            x_proto=1,
            x_host=1,
        )

    from audit_console import db, signin, verification, views, web

    db.init_app(app)
    verification.init_app(app)
    signin.init_app(app)
    CSRFProtect(app)
    idp = urlsplit(str(settings["IDP_ISSUER"]))
    web.init_app(app, hsts=not development, idp_origin=f"{idp.scheme}://{idp.netloc}")
    app.jinja_env.globals["app_name"] = APP_NAME
    from templates import dsfr  # the design system's static files, linked by base.html

    dsfr.init_app(app, settings["DSFR_DIR"])
    app.jinja_env.globals["idp_issuer"] = str(settings["IDP_ISSUER"]).rstrip("/")
    app.register_blueprint(signin.bp)
    app.register_blueprint(views.bp)
    return app
