"""Signing auditors in through the IdP (OpenID Connect, Authlib's Flask client: PKCE S256, ``state``, ``nonce``),
and out (RP-initiated logout).

The ID token's signature (JWKS from discovery), ``iss``, ``aud``, ``exp`` and ``nonce`` are checked by Authlib, with
``iss`` and ``aud`` made essential; the roles come from userinfo (scope ``audit``), whose ``sub`` must be the ID
token's. A voter, or an account the IdP's database does not hold as an auditor, gets the 403 page and no session.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from audit_console.access import REQUIRED_ROLE, SESSION_KEY, account_epoch, current_auditor
from infra.redirects import safe_local_path

logger = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

CLIENT_NAME = "idp"
CALLBACK_PATH = "/connexion/retour"
SIGNED_OUT_PATH = "/deconnexion/fin"
NEXT_KEY = "signin_next"
#: Failures of the callback: the IdP, the network, or a forged or stale answer.
CALLBACK_ERRORS = (OAuthError, JoseError, requests.RequestException, KeyError, ValueError, TypeError)


def init_app(app: Flask) -> None:
    cfg = app.config
    oauth = OAuth(app)
    issuer = str(cfg["IDP_ISSUER"]).rstrip("/")
    oauth.register(
        CLIENT_NAME,
        client_id=cfg["CLIENT_ID"],
        client_secret=cfg["CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": cfg["SCOPES"],
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": int(cfg["HTTP_TIMEOUT"]),
        },
    )


def get_client() -> Any:
    """The registered client (``FlaskOAuth2App``; Authlib is untyped)."""
    oauth = cast("OAuth", current_app.extensions["authlib.integrations.flask_client"])
    return oauth.create_client(CLIENT_NAME)


def issuer() -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/")


def public_url(path: str) -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + path


def metadata() -> dict[str, Any]:
    data = cast("dict[str, Any]", get_client().load_server_metadata())
    if str(data.get("issuer", "")).rstrip("/") != issuer():
        raise ValueError("the provider's metadata names another issuer than AUDIT_CONSOLE_IDP_ISSUER")
    return data


def _unavailable() -> tuple[str, int]:
    return render_template(
        "audit_console/error.html",
        title="Connexion impossible",
        message="Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.",
    ), 503


@bp.get("/connexion")
def start() -> Response | tuple[str, int]:
    next_path = safe_local_path(request.args.get("next"))
    if current_auditor() is not None:
        return redirect(next_path or url_for("journal.events"))
    session[NEXT_KEY] = next_path
    try:
        metadata()
        response: Response = get_client().authorize_redirect(public_url(CALLBACK_PATH), ui_locales="fr")
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("cannot reach the identity provider (%s)", type(exc).__name__)
        return _unavailable()
    return response


@bp.get(CALLBACK_PATH)
def callback() -> Response | tuple[str, int]:
    if request.args.get("error"):
        logger.info("authorization refused by the provider (%s)", request.args.get("error", "")[:40])
        return render_template(
            "audit_console/error.html",
            title="Connexion interrompue",
            message="La connexion n'a pas abouti. Vous pouvez recommencer.",
        ), 400
    returned_issuer = request.args.get("iss")
    if returned_issuer is not None and returned_issuer.rstrip("/") != issuer():
        abort(400)
    client = get_client()
    try:
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "value": metadata()["issuer"]},
                "aud": {"essential": True, "value": current_app.config["CLIENT_ID"]},
            }
        )
        claims = token["userinfo"]  # Authlib's name for the validated ID token claims
        userinfo = client.userinfo(token=token)
        if userinfo.get("sub") != claims["sub"]:
            raise ValueError("userinfo sub differs from the ID token's")
    except CALLBACK_ERRORS as exc:
        logger.warning("sign-in callback failed (%s)", type(exc).__name__)
        return render_template(
            "audit_console/error.html",
            title="Connexion interrompue",
            message="La connexion n'a pas abouti ou a expiré. Vous pouvez recommencer.",
        ), 400
    next_path = safe_local_path(session.pop(NEXT_KEY, None))
    session.clear()
    roles = userinfo.get("roles")
    sub = str(claims["sub"])
    epoch = account_epoch(sub) if isinstance(roles, list) and REQUIRED_ROLE in roles else None
    if epoch is None:
        logger.info("sign-in refused: not an auditor account")
        abort(403)
    session.permanent = True
    session[SESSION_KEY] = {
        "sub": sub,
        "name": str(userinfo.get("name") or ""),
        "epoch": epoch,
        "signed_in_at": time.time(),
        "id_token": token["id_token"],
    }
    return redirect(next_path or url_for("journal.events"))


@bp.post("/deconnexion")
def sign_out() -> Response:
    auditor = current_auditor()
    session.clear()
    end_session = None
    if auditor is not None:
        try:
            end_session = metadata().get("end_session_endpoint")
        except (requests.RequestException, ValueError, RuntimeError) as exc:
            logger.warning("cannot reach the identity provider to sign out there (%s)", type(exc).__name__)
    if auditor is None or not end_session:
        return redirect(url_for("signin.signed_out"))
    response: Response = get_client().logout_redirect(
        post_logout_redirect_uri=public_url(SIGNED_OUT_PATH), id_token_hint=auditor.id_token
    )
    return response


@bp.get(SIGNED_OUT_PATH)
def signed_out() -> str:
    try:
        get_client().validate_logout_response()
    except OAuthError:
        logger.info("sign-out return without a known state")
    return render_template("audit_console/signed_out.html")
