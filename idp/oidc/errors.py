"""Errors of the browser-facing endpoints, as French pages for the voter.

They are shown when the provider must not redirect: the client or its redirect URI cannot be trusted (never
redirect to an unregistered URI), the request expired, or a logout request is invalid. The OAuth error code is
shown for the support desk of the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import jsonify, render_template
from werkzeug.wrappers import Response

from infra import unavailable

logger = logging.getLogger(__name__)

P = ParamSpec("P")

MESSAGES: dict[str, tuple[str, str]] = {
    "unknown_client": (
        "Application inconnue",
        "L'application qui vous a envoyé(e) ici n'est pas reconnue par le portail Élections.",
    ),
    "invalid_redirect_uri": (
        "Adresse de retour non reconnue",
        "L'adresse de retour indiquée par l'application n'est pas enregistrée : par sécurité, "
        "vous n'y êtes pas renvoyé(e).",
    ),
    "invalid_request": (
        "Demande de connexion invalide",
        "La demande de connexion envoyée par l'application est incomplète ou incorrecte.",
    ),
    "expired": ("Demande expirée", "Votre demande de connexion a expiré ou a déjà été utilisée."),
    "invalid_logout": (
        "Demande de déconnexion invalide",
        "La demande de déconnexion envoyée par l'application est incorrecte : vous n'avez pas été "
        "déconnecté(e) et vous n'êtes pas renvoyé(e) vers l'application.",
    ),
    "server_error": ("Erreur technique", "Une erreur technique est survenue. Réessayez dans quelques instants."),
}


def error_page(kind: str, status: int = 400, code: str | None = None) -> tuple[str, int]:
    title, message = MESSAGES.get(kind, MESSAGES["invalid_request"])
    return render_template("idp/oidc/error.html", title=title, message=message, code=code or kind), status


def oauth_error_page(error: OAuth2Error) -> tuple[str, int]:
    """An OAuth error that cannot go back to the client (no trusted redirect URI)."""
    return error_page("invalid_request", 400, code=str(error.error))


def json_endpoint(view: Callable[P, Any]) -> Callable[P, Any]:
    """Protocol endpoints answer JSON, even for what Authlib raises outside its own error handling (an
    insecure transport, say) or for a fault: never an HTML page to a program."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return view(*args, **kwargs)
        except OAuth2Error as error:
            status, body, headers = error()
            response: Response = jsonify(body)
            response.status_code = status
            for name, value in headers:
                response.headers[name] = value
            return response
        except Exception as exc:
            if unavailable.is_unavailable(exc):
                # The store or the database is down: the client may retry (RFC 6749 4.1.2.1's code, 503).
                unavailable.mark()
                logger.warning("protocol endpoint: dependency unavailable (%s)", type(exc).__name__)
                response = jsonify(
                    {"error": "temporarily_unavailable", "error_description": "service temporarily unavailable"}
                )
                response.status_code = 503
                response.headers["Retry-After"] = str(unavailable.RETRY_AFTER)
            else:
                logger.exception("unexpected error in a protocol endpoint")
                response = jsonify({"error": "server_error"})
                response.status_code = 500
            response.headers["Cache-Control"] = "no-store"
            return response

    return wrapper
