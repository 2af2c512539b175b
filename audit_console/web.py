"""Security headers, French error pages, health and date formatting of the console's pages (from :mod:`infra`)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask
from sqlalchemy import func, select

from audit_console.filters import PARIS
from idp.models import AuditSeal
from infra import errors, headers, health
from infra.db import get_db
from templates import TEMPLATE_DIR

#: The console's own wording of some errors (the rest: :data:`infra.errors.MESSAGES`).
MESSAGES = {
    403: (
        "Accès refusé",
        "Le journal d'audit est réservé aux comptes auditeurs. Le compte avec lequel vous vous "
        "êtes connecté n'y a pas accès.",
    ),
    404: ("Page introuvable", "La page demandée n'existe pas."),
}


def _database(app: Flask) -> None:
    """The IdP's database answers, and the console may read the log there (its role's grants)."""
    with get_db(app).engine.connect() as connection:
        connection.execute(select(func.count()).select_from(AuditSeal))


def init_app(app: Flask, *, hsts: bool) -> None:
    """Security headers, error pages, health, filters and the console's stylesheet.

    The IdP's origin is a ``form-action`` source: signing out is a POST answered by a redirect to the IdP. No
    response is cached: the journal names subjects and clients.
    """
    idp_origin = headers.origin_of(str(app.config["IDP_ISSUER"])) or ""
    headers.install(app, csp=headers.content_security_policy(form_action=[idp_origin]), hsts=hsts, no_store="all")
    errors.install(
        app,
        template="audit_console/error.html",
        messages=MESSAGES,
        templates={403: "audit_console/forbidden.html"},
        expired_form=("Page expirée", "Cette page a expiré. Rechargez-la puis recommencez."),
    )
    health.install(app, {"database": _database, "store": health.store})
    app.jinja_env.filters["paris"] = paris_time
    app.jinja_env.filters["nombre"] = french_number
    app.register_blueprint(assets)


#: The console's own stylesheet, next to its templates.
assets = Blueprint(
    "console_assets",
    __name__,
    static_folder=str(TEMPLATE_DIR / "audit_console" / "static"),
    static_url_path="/static/console",
)


def french_number(value: int) -> str:
    """``1 234 567``: thousands separated by a narrow no-break space, as French typography writes them."""
    return f"{value:,}".replace(",", "\u202f")


def paris_time(value: dt.datetime | str | None) -> str:
    """``30/11/2026 10:15:03`` in Paris time, from an aware datetime or an ISO 8601 instant."""
    if value is None:
        return ""
    instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return instant.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")
