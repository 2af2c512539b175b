"""Signing operators in through the IdP (OpenID Connect, Authlib's Flask client: PKCE S256, ``state``, ``nonce``),
and out (RP-initiated logout).

The ID token's signature (JWKS from discovery), ``iss``, ``aud``, ``exp`` and ``nonce`` are checked by Authlib, with
``iss`` and ``aud`` made essential; the roles come from userinfo (scope ``audit``), whose ``sub`` must be the ID
token's. A voter, an auditor, or an account the IdP's database does not hold as an operator, gets the 403 page and
no session.
"""

from __future__ import annotations

import logging
import time

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from infra import oidc_client
from infra.redirects import safe_local_path
from infra.sessions import regenerate
from operator_console.access import REQUIRED_ROLE, SESSION_KEY, account_epoch, current_operator

logger = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

CALLBACK_PATH = "/connexion/retour"
SIGNED_OUT_PATH = "/deconnexion/fin"
NEXT_KEY = "signin_next"


def _unavailable() -> tuple[str, int]:
    return render_template(
        "operator_console/error.html",
        title="Connexion impossible",
        message="Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.",
    ), 503


@bp.get("/connexion")
def start() -> Response | tuple[str, int]:
    next_path = safe_local_path(request.args.get("next"))
    if current_operator() is not None:
        return redirect(next_path or url_for("operations.turnout"))
    session[NEXT_KEY] = next_path
    try:
        oidc_client.metadata()
        response: Response = oidc_client.get_client().authorize_redirect(
            oidc_client.public_url(CALLBACK_PATH), ui_locales="fr"
        )
    except oidc_client.PROVIDER_ERRORS as exc:
        logger.warning("cannot reach the identity provider (%s)", type(exc).__name__)
        return _unavailable()
    return response


@bp.get(CALLBACK_PATH)
def callback() -> Response | tuple[str, int]:
    if request.args.get("error"):
        logger.info("authorization refused by the provider (%s)", request.args.get("error", "")[:40])
        return render_template(
            "operator_console/error.html",
            title="Connexion interrompue",
            message="La connexion n'a pas abouti. Vous pouvez recommencer.",
        ), 400
    if not oidc_client.returned_issuer_matches(request.args.get("iss")):
        abort(400)
    try:
        token = oidc_client.exchange_code()  # signature, iss, aud, exp, nonce, azp, at_hash checked
        claims = token["userinfo"]  # Authlib's name for the validated ID token claims
        userinfo = oidc_client.userinfo_of(token)
    except oidc_client.CALLBACK_ERRORS as exc:
        logger.warning("sign-in callback failed (%s)", type(exc).__name__)
        return render_template(
            "operator_console/error.html",
            title="Connexion interrompue",
            message="La connexion n'a pas abouti ou a expiré. Vous pouvez recommencer.",
        ), 400
    next_path = safe_local_path(session.pop(NEXT_KEY, None))
    session.clear()
    regenerate()  # a new session id at sign-in: no fixation
    roles = userinfo.get("roles")
    sub = str(claims["sub"])
    epoch = account_epoch(sub) if isinstance(roles, list) and REQUIRED_ROLE in roles else None
    if epoch is None:
        logger.info("sign-in refused: not an operator account")
        abort(403)
    session[SESSION_KEY] = {
        "sub": sub,
        "name": str(userinfo.get("name") or ""),
        "epoch": epoch,
        "signed_in_at": time.time(),
        "id_token": token["id_token"],
    }
    return redirect(next_path or url_for("operations.turnout"))


@bp.post("/deconnexion")
def sign_out() -> Response:
    operator = current_operator()
    session.clear()
    regenerate()  # the session is deleted from the store: a copy of the cookie opens nothing any more
    end_session = None
    if operator is not None:
        try:
            end_session = oidc_client.metadata().get("end_session_endpoint")
        except oidc_client.PROVIDER_ERRORS as exc:
            logger.warning("cannot reach the identity provider to sign out there (%s)", type(exc).__name__)
    if operator is None or not end_session:
        return redirect(url_for("signin.signed_out"))
    response: Response = oidc_client.get_client().logout_redirect(
        post_logout_redirect_uri=oidc_client.public_url(SIGNED_OUT_PATH), id_token_hint=operator.id_token
    )
    return response


@bp.get(SIGNED_OUT_PATH)
def signed_out() -> str:
    try:
        oidc_client.get_client().validate_logout_response()
    except OAuthError:
        logger.info("sign-out return without a known state")
    return render_template("operator_console/signed_out.html")
