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

from audit_console import config as config_module
from audit_console import views, web
from audit_console.access import CONSOLE
from infra import gc_tuning, staff_console

APP_NAME = "Journal d'audit – Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``AUDIT_CONSOLE_*`` environment variables, then ``config``."""
    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = staff_console.create_app(__name__, settings, CONSOLE, app_name=APP_NAME, env_prefix=config_module.ENV_PREFIX)
    web.init_app(app)
    app.register_blueprint(views.bp)
    gc_tuning.freeze_loaded(environ)  # the app and its imports out of the collector's walks
    return app
