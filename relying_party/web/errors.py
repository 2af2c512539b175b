"""French error pages; a missing or expired session on a form goes back to sign-in instead of an error."""

from __future__ import annotations

import logging

from flask import Flask, flash, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from relying_party.signin.guards import sign_in_redirect
from relying_party.signin.identity import current_voter

logger = logging.getLogger(__name__)

MESSAGES = {
    400: ("Requête invalide", "La demande n'a pas pu être traitée. Revenez à la page précédente et réessayez."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "La page demandée n'existe pas ou n'existe plus."),
    405: ("Action non permise", "Cette action n'est pas permise sur cette page."),
    413: ("Demande trop volumineuse", "Les informations envoyées sont trop volumineuses."),
    429: ("Trop de demandes", "Trop de demandes ont été faites. Patientez quelques minutes puis réessayez."),
    500: ("Erreur technique", "Une erreur technique est survenue. Réessayez dans quelques instants."),
    503: (
        "Service momentanément indisponible",
        "Le portail est momentanément indisponible. Réessayez dans quelques instants.",
    ),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response | tuple[str, int]:
        if current_voter() is None:
            # The session expired (or never existed) while the page was open: sign in again.
            flash("Votre session a expiré. Merci de vous connecter à nouveau.", "info")
            return sign_in_redirect()
        return render_template(
            "portal/error.html",
            title="Page expirée",
            message="Cette page a expiré ou a été ouverte dans un autre onglet. Recommencez depuis l'accueil.",
        ), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        title, message = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
        return render_template("portal/error.html", title=title, message=message), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        logger.exception("unhandled error", exc_info=error)
        title, message = MESSAGES[500]
        return render_template("portal/error.html", title=title, message=message), InternalServerError.code
