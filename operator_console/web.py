"""Security headers, French error pages, health and the stylesheet of the console (from :mod:`infra`)."""

from __future__ import annotations

from flask import Blueprint, Flask
from sqlalchemy import func, select

from idp.models import AuditEvent
from infra import errors, headers, health
from infra.db import get_db
from operator_console.figures import portal_engine
from relying_party.models import Scrutin
from templates import TEMPLATE_DIR

#: The console's own wording of some errors (the rest: :data:`infra.errors.MESSAGES`).
MESSAGES = {
    403: (
        "Accès refusé",
        "La console des opérateurs est réservée aux comptes opérateurs. Le compte avec lequel vous vous êtes "
        "connecté n'y a pas accès.",
    ),
    404: ("Page introuvable", "La page demandée n'existe pas."),
}


def _idp_database(app: Flask) -> None:
    """The IdP's database answers, and the console may read the log there (its role's grants)."""
    with get_db(app).engine.connect() as connection:
        connection.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.id < 0))


def _portal_database(app: Flask) -> None:
    with portal_engine(app).connect() as connection:
        connection.execute(select(func.count()).select_from(Scrutin))


#: The console's own stylesheet, next to its templates.
assets = Blueprint(
    "operator_assets",
    __name__,
    static_folder=str(TEMPLATE_DIR / "operator_console" / "static"),
    static_url_path="/static/operations",
)


def init_app(app: Flask, *, hsts: bool) -> None:
    """Security headers, error pages, health and the console's stylesheet.

    The IdP's origin is a ``form-action`` source: signing out is a POST answered by a redirect to the IdP. No
    response is cached: the figures are the election's, for operators only.
    """
    idp_origin = headers.origin_of(str(app.config["IDP_ISSUER"])) or ""
    headers.install(app, csp=headers.content_security_policy(form_action=[idp_origin]), hsts=hsts, no_store="all")
    errors.install(
        app,
        template="operator_console/error.html",
        messages=MESSAGES,
        templates={403: "operator_console/forbidden.html"},
        expired_form=("Page expirée", "Cette page a expiré. Rechargez-la puis recommencez."),
    )
    health.install(app, {"database": _idp_database, "portal_database": _portal_database, "store": health.store})
    app.register_blueprint(assets)
