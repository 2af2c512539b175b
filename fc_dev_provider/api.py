"""The OpenID Connect endpoints under ``/api/v2``: discovery, JWKS, authorize, token, userinfo, session/end.

The token and userinfo endpoints apply the faults of the login's scenario before answering: a delay, then an
injected error status (the code is not consumed by an injected token error, as when a proxy fails in front of
the real server), then, for userinfo, missing claims and a bad signature.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from fc_dev_provider import tokens
from fc_dev_provider.claims import IDENTITY_CLAIMS, SCOPES_SUPPORTED, userinfo_claims
from fc_dev_provider.clients import AUTH_METHODS
from fc_dev_provider.config import API_PREFIX
from fc_dev_provider.keys import ALGORITHM
from fc_dev_provider.provider import Provider, get_provider
from fc_dev_provider.records import ACR, CodeRecord, TokenRecord, code_key, interaction_key
from fc_dev_provider.scenarios import Scenario
from fc_dev_provider.web import json_error, oauth_error_page, oauth_json_error

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

#: The OAuth error code of an injected status (RFC 6749 5.2 and 4.1.2.1 codes; others by class).
_INJECTED_ERRORS = {401: "invalid_client", 503: "temporarily_unavailable"}


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    provider = get_provider()
    response = jsonify(
        {
            "issuer": provider.issuer,
            "authorization_endpoint": provider.url("/authorize"),
            "token_endpoint": provider.url("/token"),
            "userinfo_endpoint": provider.url("/userinfo"),
            "end_session_endpoint": provider.url("/session/end"),
            "jwks_uri": provider.url("/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "scopes_supported": list(SCOPES_SUPPORTED),
            "claims_supported": [
                "sub",
                *IDENTITY_CLAIMS,
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "at_hash",
            ],
            "acr_values_supported": [ACR],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "userinfo_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        }
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/jwks")
def jwks() -> Response:
    response = jsonify(get_provider().signing_key.jwks())
    # No long caching: without FCDEV_SIGNING_KEY_FILE the key changes at every restart.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    """Validate the request (Authlib + FranceConnect's rules), keep it, and show the citizen list."""
    provider = get_provider()
    server = provider.authorization_server
    try:
        server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        return oauth_error_page(error)
    except ValueError:
        # Authlib builds some descriptions from the request (an unregistered redirect_uri) and refuses to when
        # they hold characters an OAuth error may not carry: the request is malformed either way.
        return oauth_error_page(InvalidRequestError("Malformed authorization request."))
    uid = secrets.token_urlsafe(24)
    params = {key: request.values[key] for key in request.values}
    provider.store.put(interaction_key(uid), {"uri": request.url, "params": params}, provider.ttl("INTERACTION_TTL"))
    return redirect(url_for("interaction.login_page", uid=uid))


def _apply_delay_and_status(scenario: Scenario | None, endpoint: str) -> Response | None:
    if scenario is None:
        return None
    delay = scenario.delay(endpoint)
    if delay:
        logger.info("scenario %s: %s delayed %.1f s", scenario.name, endpoint, delay)
        time.sleep(delay)
    status = scenario.error_status(endpoint)
    if status is None:
        return None
    logger.info("scenario %s: %s answers %d", scenario.name, endpoint, status)
    error = _INJECTED_ERRORS.get(status, "server_error" if status >= 500 else "invalid_request")
    return json_error(status, error, f"Injected fault (scenario {scenario.name}).")


def _code_scenario(provider: Provider, code: str | None) -> Scenario | None:
    """The scenario of a code, read without consuming it (the grant takes it afterwards)."""
    if not code:
        return None
    data = provider.store.get(code_key(code))
    return CodeRecord(**data).fault_scenario if data else None


@bp.post("/token")
def token() -> Response:
    provider = get_provider()
    injected = _apply_delay_and_status(_code_scenario(provider, request.form.get("code")), "token")
    if injected is not None:
        return injected
    response: Response = provider.authorization_server.create_token_response()
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """The claims of the granted scopes as a JWT signed ES256 (``application/jwt``, FranceConnect v2)."""
    provider = get_provider()
    try:
        record: TokenRecord = provider.authorization_server.resource_protector.validate_request(
            scopes=None, request=FlaskJsonRequest(request)
        )
    except OAuth2Error as error:
        return oauth_json_error(error)
    scenario = record.fault_scenario
    injected = _apply_delay_and_status(scenario, "userinfo")
    if injected is not None:
        return injected
    citizen = provider.citizens.get(record.citizen_id)
    if citizen is None:  # the citizens file changed under a running process with several workers
        return oauth_json_error(InvalidTokenError())
    claims = userinfo_claims(citizen, record.scope, record.sub)
    for claim in scenario.missing_claims() if scenario else ():
        claims.pop(claim, None)
    body = tokens.userinfo(provider, record.client_id, claims, scenario)
    return Response(body, mimetype="application/jwt", headers={"Cache-Control": "no-store"})


@bp.route("/session/end", methods=["GET", "POST"])
def end_session() -> Any:
    server = get_provider().authorization_server
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return oauth_error_page(error)
    response = server.create_endpoint_response("end_session", validated)
    return response or render_template("fc_dev/logged_out.html")
