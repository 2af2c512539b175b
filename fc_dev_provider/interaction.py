"""The login page for testers: pick a fictitious citizen (and a scenario), or cancel.

``/authorize`` keeps the validated request in the store under a random id and sends the browser here. Choosing
a citizen (a POST with a CSRF token) takes the request out of the store (one answer per request), rebuilds it
for Authlib, and redirects to the client's callback with ``code`` and ``state``; cancelling returns
``access_denied``; a scenario with ``callback_error`` returns that error instead of a code.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.base import OAuth2Error
from flask import Blueprint, Response, render_template, request

from fc_dev_provider.claims import claims_of_scope
from fc_dev_provider.provider import Provider, get_provider
from fc_dev_provider.records import Login, interaction_key
from fc_dev_provider.requests import StoredAuthorizationRequest
from fc_dev_provider.scenarios import CHOICE_DEFAULT, CHOICE_NONE
from fc_dev_provider.web import error_page, oauth_error_page

logger = logging.getLogger(__name__)

bp = Blueprint("interaction", __name__, url_prefix="/interaction")

CLAIM_LABELS = {
    "given_name": "Prénoms",
    "family_name": "Nom de naissance",
    "birthdate": "Date de naissance",
    "gender": "Sexe",
    "birthplace": "Lieu de naissance",
    "birthcountry": "Pays de naissance",
    "email": "Adresse électronique",
    "preferred_username": "Nom d'usage",
}

EXPIRED = (
    "Cette demande de connexion a expiré ou a déjà reçu une réponse. Revenez au service et recommencez la connexion."
)


def _pending(provider: Provider, uid: str) -> dict[str, Any] | None:
    return provider.store.get(interaction_key(uid)) if len(uid) <= 64 else None


@bp.get("/<uid>")
def login_page(uid: str) -> Response | str:
    provider = get_provider()
    pending = _pending(provider, uid)
    if pending is None:
        return error_page(400, EXPIRED)
    params = pending["params"]
    client = provider.clients.get(params["client_id"])
    if client is None:  # the clients file changed between two processes
        return error_page(400, EXPIRED)
    scope = str(params.get("scope", ""))
    return render_template(
        "fc_dev/login.html",
        uid=uid,
        client=client,
        requested=[CLAIM_LABELS[c] for c in claims_of_scope(scope)],
        citizens=list(provider.citizens.values()),
        scenarios=list(provider.scenarios.scenarios.values()),
        by_citizen=provider.scenarios,
        choice_default=CHOICE_DEFAULT,
        choice_none=CHOICE_NONE,
    )


@bp.post("/<uid>")
def answer(uid: str) -> Response:
    provider = get_provider()
    if _pending(provider, uid) is None:
        return error_page(400, EXPIRED)
    cancelled = request.form.get("action") == "annuler"
    citizen = provider.citizens.get(request.form.get("citizen", ""))
    if not cancelled and citizen is None:
        return error_page(400, "Choisissez une des identités proposées.")
    choice = request.form.get("scenario", CHOICE_DEFAULT)
    try:
        scenario = provider.scenarios.resolve(choice, citizen.id if citizen else "")
    except KeyError:
        return error_page(400, "Ce scénario n'existe pas.")
    pending = provider.store.take(interaction_key(uid))
    if pending is None:  # answered meanwhile (double click, another tab)
        return error_page(400, EXPIRED)

    server = provider.authorization_server
    stored = StoredAuthorizationRequest(pending["uri"], pending["params"], allow_http=provider.allow_http)
    fault = scenario.callback_error() if scenario and not cancelled else None
    try:
        grant = server.get_authorization_grant(stored)
        if fault is not None:
            # The error goes back like any error of the request: to its validated redirect_uri, with state.
            logger.info("scenario %s: callback error %s", scenario.name if scenario else "-", fault.error)
            raise OAuth2Error(
                error=fault.error,
                description=fault.error_description,
                redirect_uri=grant.validate_authorization_request(),
            )
    except OAuth2Error as error:
        if not error.redirect_uri:
            return oauth_error_page(error)
        error.state = stored.payload.state
        response: Response = server.handle_error_response(stored, error)
        return response
    login = None
    if citizen is not None and not cancelled:
        login = Login(citizen, scenario, int(provider.now()))
        logger.info(
            "login: citizen %s, client %s, scenario %s",
            citizen.id,
            stored.payload.client_id,
            scenario.name if scenario else "-",
        )
    result: Response = server.create_authorization_response(request=stored, grant_user=login, grant=grant)
    return result
