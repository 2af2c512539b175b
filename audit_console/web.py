"""Security headers, French error pages and date formatting of the console's pages."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Flask, Response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from audit_console.filters import PARIS
from templates import TEMPLATE_DIR

logger = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self' {idp}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

MESSAGES = {
    400: ("Requête invalide", "La demande n'a pas pu être traitée. Revenez à la page précédente et réessayez."),
    403: (
        "Accès refusé",
        "Le journal d'audit est réservé aux comptes auditeurs. Le compte avec lequel vous vous "
        "êtes connecté n'y a pas accès.",
    ),
    404: ("Page introuvable", "La page demandée n'existe pas."),
    405: ("Action non permise", "Cette action n'est pas permise sur cette page."),
    500: ("Erreur technique", "Une erreur technique est survenue. Réessayez dans quelques instants."),
}


def init_app(app: Flask, *, hsts: bool, idp_origin: str) -> None:
    """``idp_origin`` is allowed as ``form-action``: signing out is a POST answered by a redirect to the IdP."""
    csp = CSP.format(idp=idp_origin)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        # The journal names subjects and clients: no copy in a browser's or a proxy's cache.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "audit_console/error.html",
            title="Page expirée",
            message="Cette page a expiré. Rechargez-la puis recommencez.",
        ), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        title, message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
        template = "audit_console/forbidden.html" if code == 403 else "audit_console/error.html"
        return render_template(template, title=title, message=message), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        logger.exception("unhandled error", exc_info=error)
        title, message = MESSAGES[500]
        return render_template("audit_console/error.html", title=title, message=message), InternalServerError.code

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
