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

from infra import gc_tuning, staff_console
from operator_console import config as config_module
from operator_console import figures, views, web
from operator_console.access import CONSOLE
from templates import dsfr_chart
from templates import figures as figure_filters

APP_NAME = "Console des opérateurs – Portail Élections"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Application factory: defaults, then ``OPERATOR_CONSOLE_*`` environment variables, then ``config``."""
    settings = config_module.load(environ, config)
    config_module.validate(settings)
    app = staff_console.create_app(__name__, settings, CONSOLE, app_name=APP_NAME, env_prefix=config_module.ENV_PREFIX)
    figures.init_app(app)
    web.init_app(app)
    dsfr_chart.init_app(app, settings["DSFR_DIR"])
    figure_filters.init_app(app)
    app.register_blueprint(views.bp)
    gc_tuning.freeze_loaded(environ)  # the app and its imports out of the collector's walks
    return app
