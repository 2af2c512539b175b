"""French error pages (:mod:`infra.errors`); a missing or expired session on a form goes back to sign-in instead."""

from __future__ import annotations

from flask import Flask, flash, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from infra import errors
from relying_party.signin.guards import sign_in_redirect
from relying_party.signin.identity import current_voter

MESSAGES = {
    503: (
        "Service momentanément indisponible",
        "Le portail Élections est momentanément indisponible. Réessayez dans quelques instants : un vote déjà "
        "enregistré reste enregistré.",
    ),
}


def expired_form(error: CSRFError) -> Response | tuple[str, int]:
    if current_voter() is None:
        # The session expired (or never existed) while the page was open: sign in again.
        flash("Votre session a expiré. Merci de vous connecter à nouveau.", "info")
        return sign_in_redirect()
    return render_template(
        "portal/error.html",
        title="Page expirée",
        message="Cette page a expiré ou a été ouverte dans un autre onglet. Recommencez depuis l'accueil.",
    ), 400


def init_app(app: Flask) -> None:
    errors.install(app, template="portal/error.html", messages=MESSAGES, expired_form=expired_form)
