"""Security headers, error pages and JSON errors, common to every view of the provider.

Browser-facing errors (authorization request without a usable ``redirect_uri``, login page, logout) are French
pages that never redirect; the machine endpoints (token, userinfo, discovery, JWKS) answer OAuth-style JSON.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from authlib.oauth2.base import OAuth2Error
from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from fc_dev_provider.clients import Client
from infra import headers, unavailable
from infra.store import StoreUnavailable

logger = logging.getLogger(__name__)

#: Endpoints a program calls: their errors are JSON.
JSON_ENDPOINTS = {"api.token", "api.userinfo", "api.discovery", "api.jwks", "health.healthz", "health.readyz"}
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}

_TITLES = {
    400: "Demande invalide",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    413: "Demande trop volumineuse",
    500: "Erreur interne",
    503: unavailable.TITLE,
}


def json_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status=status, headers={**JSON_HEADERS, **(headers or {})})


def oauth_json_error(error: OAuth2Error) -> Response:
    status, body, headers = error()
    return Response(json.dumps(body), status=status, headers=dict(headers))


def error_page(status: int, message: str, *, error: str | None = None, description: str | None = None) -> Response:
    html = render_template(
        "fc_dev/error.html", title=_TITLES.get(status, "Erreur"), message=message, error=error, description=description
    )
    return Response(html, status=status, mimetype="text/html")


def oauth_error_page(error: OAuth2Error) -> Response:
    """An authorization or logout error that must not go back to an unverified address."""
    return error_page(
        400,
        "Le service qui vous a envoyé ici a transmis une demande que ce fournisseur d'identité refuse ; "
        "il n'est pas possible de vous y renvoyer sans risque.",
        error=error.error,
        description=error.get_error_description(),
    )


def form_action_sources(clients: dict[str, Client]) -> str:
    """Origins the login form may lead to (CSP form-action): its answer redirects to a client's callback."""
    origins = set()
    for client in clients.values():
        for uri in (*client.redirect_uris, *client.post_logout_redirect_uris):
            parts = urlsplit(uri)
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return " ".join(sorted(origins))


#: Nothing but its own stylesheet and images: the login page runs no script.
POLICY: dict[str, str | None] = {"default-src": "'none'", "script-src": None, "img-src": "'self'"}


def init_app(app: Flask, clients: dict[str, Client]) -> None:
    csp = headers.content_security_policy(form_action=form_action_sources(clients).split(), directives=POLICY)
    headers.install(app, csp=csp, hsts=False)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        return error_page(
            400,
            "Le formulaire a expiré ou n'a pas été envoyé depuis cette page. "
            "Revenez au service et recommencez la connexion.",
        )

    @app.errorhandler(StoreUnavailable)
    def _unavailable(error: StoreUnavailable) -> Response:
        """Redis down: JSON for programs, the French page for browsers; both say when to try again."""
        logger.warning("store unavailable: answered 503")
        retry = {"Retry-After": str(unavailable.RETRY_AFTER)}
        if request.endpoint in JSON_ENDPOINTS:
            return json_error(503, "temporarily_unavailable", "service temporarily unavailable", retry)
        page = error_page(503, unavailable.MESSAGE)
        page.headers.update(retry)
        return page

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        if request.endpoint in JSON_ENDPOINTS or (status == 404 and request.path.startswith("/api/")):
            return json_error(status, "invalid_request", error.name)
        return error_page(status, error.description or error.name)
