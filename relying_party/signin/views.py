"""Sign-in, the vote-code step and sign-out, as an OpenID Connect relying party.

- ``/connexion`` starts an authorization code request (PKCE S256, ``state``, ``nonce``: Authlib generates and keeps
  them in the server-side session); ``/connexion/retour`` exchanges the code, validates the ID token (signature by
  the IdP's JWKS, ``iss``, ``aud``, ``exp``, ``nonce``) and takes the voter's claims from it, or reads userinfo when
  the ID token does not carry them (the portal registered at the IdP without ``--claims-in-id-token``).
- ``/je-vote/code`` asks the IdP for the vote-code level: ``acr_values`` and a short ``max_age``; ``prompt=login``
  only when the IdP answered once without that level. The answer's ``acr``, ``amr`` and ``auth_time`` are checked.
- ``/deconnexion`` ends the portal session and sends the browser to the IdP's end-session endpoint
  (RP-initiated logout with ``id_token_hint``, ``post_logout_redirect_uri`` and ``state``).
Every failure lands on the portal's home page with a French message: a voter never sees a protocol error.
The code of one authorization response is redeemed at most once (:func:`claim`): a callback answered twice (a
reload while it loads, a retry, a twin carrying the old cookie, a reload after success) never presents the code
again to the IdP, which would take it for a reuse and revoke the grant, and sends the browser where the first
callback leads, without a failure message.
A sign-in accepted and a vote-code level reached are audited (the voter's keyed pseudonym, acr and amr) before the
session gets them: a step the log could not record is not granted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from werkzeug.wrappers import Response

from infra.oidc_client import (
    CALLBACK_ERRORS,
    PROVIDER_ERRORS,
    exchange_code,
    get_client,
    metadata,
    public_url,
    released_claims,
    returned_issuer_matches,
)
from infra.redirects import safe_local_path
from infra.sessions import regenerate
from relying_party.audit import record_alone, voter_reference
from relying_party.db import get_db
from relying_party.signin import admission
from relying_party.signin.identity import (
    current_voter,
    level_problem,
    record_vote_level,
    sign_in,
    sign_out,
)
from relying_party.store import get_store

logger = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

PENDING_KEY = "pending_authorizations"
#: Several tabs may start a sign-in at once; older pending requests beyond this are forgotten.
MAX_PENDING = 5
CALLBACK_PATH = "/connexion/retour"
SIGNED_OUT_PATH = "/deconnexion/fin"

#: The ephemeral store's record that a callback took an authorization response (its ``state``'s SHA-256 follows):
#: the one request that adds it exchanges the code, a twin finds it there and does not.
CLAIM_PREFIX = "rp:callback-claimed:"
#: Seconds a claim is kept: no less than a pending authorization's life, Authlib's state data kept in the session
#: one hour (``FrameworkIntegration.expires_in``), after which a callback with that ``state`` is refused anyway.
CLAIM_TTL = 3600

MSG_SIGNIN_FAILED = (
    "La connexion au portail Élections n'a pas abouti ou a expiré. "
    "Cliquez sur « Accéder au portail Élections » pour recommencer."
)
MSG_VOTE_CODE_FAILED = "Votre code de vote n'a pas pu être vérifié. Vous pouvez recommencer depuis « Je vote »."
MSG_SIGNED_OUT = "Vous êtes déconnecté du portail Élections."
MSG_UNAVAILABLE = "Le service de connexion est momentanément indisponible. Réessayez dans quelques instants."


def _authorize(purpose: str, next_path: str | None, *, attempt: int = 1, **params: str) -> Response:
    client = get_client()
    try:
        metadata()
        redirect_uri = public_url(CALLBACK_PATH)
        rv = client.create_authorization_url(redirect_uri=redirect_uri, ui_locales="fr", **params)
    except PROVIDER_ERRORS as exc:
        logger.warning("cannot reach the identity provider (%s)", type(exc).__name__)
        flash(MSG_UNAVAILABLE, "error")
        return redirect(url_for("portal.home"))
    client.save_authorize_data(redirect_uri=redirect_uri, **rv)
    pending: dict[str, Any] = dict(session.get(PENDING_KEY) or {})
    pending[rv["state"]] = {"purpose": purpose, "next": next_path, "attempt": attempt, "at": int(time.time())}
    session[PENDING_KEY] = dict(sorted(pending.items(), key=lambda item: item[1]["at"])[-MAX_PENDING:])
    return redirect(rv["url"])


def vote_authorization(next_path: str | None, *, attempt: int = 1) -> Response:
    cfg = current_app.config
    params = {"acr_values": str(cfg["VOTE_ACR"]), "max_age": str(int(cfg["VOTE_MAX_AGE"]))}
    voter = current_voter()
    if voter is not None and voter.email:
        params["login_hint"] = voter.email
    if attempt > 1:
        params["prompt"] = "login"
    return _authorize("vote", next_path, attempt=attempt, **params)


@bp.get("/connexion")
def start() -> Response | admission.WaitingPage:
    next_path = safe_local_path(request.args.get("next"))
    if current_voter() is not None:
        return redirect(next_path or url_for("portal.home"))
    waiting = admission.gate()
    if waiting is not None:
        return waiting
    return _authorize("signin", next_path)


@bp.get("/je-vote/code")
def vote_code() -> Response:
    """Step-up to the vote-code level, then back to the ballot (``next``)."""
    next_path = safe_local_path(request.args.get("next")) or url_for("voting.index")
    if current_voter() is None:
        return redirect(url_for("signin.start", next=next_path))
    return vote_authorization(next_path)


def _fail(message: str, endpoint: str = "portal.home") -> Response:
    flash(message, "error")
    return redirect(url_for(endpoint))


def _claim_key(state: str) -> str:
    return CLAIM_PREFIX + hashlib.sha256(state.encode()).hexdigest()


def claim(state: str, next_path: str | None) -> bool:
    """Take the authorization response of ``state`` for this request: True for exactly one of the requests that
    carry it (take-once: the store's ``add``), whose code only that one exchanges. The claim keeps where the
    callback leads (``next``, a local path) for a reload of the callback after success (:func:`_already_answered`)."""
    return get_store().add(_claim_key(state), next_path or "", CLAIM_TTL)


def _twin(purpose: str, next_path: str | None) -> Response:
    """The answer of a callback whose authorization response another request took (or is taking): where the first
    leads, without asking the IdP. Signed in already (the first finished, and this request carries its cookie): the
    destination. Not signed in in this session (a twin carrying the cookie from before the sign-in): the sign-in
    again, with the same ``next``, which the IdP's own session answers in a few redirects with nothing to type. The
    vote-code step: its destination, whose page asks for the step again if this session lacks the level."""
    if purpose == "vote":
        return redirect(next_path or url_for("voting.index"))
    if current_voter() is not None:
        return redirect(next_path or url_for("portal.home"))
    return redirect(url_for("signin.start", next=next_path) if next_path else url_for("signin.start"))


def _already_answered(state: str) -> Response:
    """A callback without a pending authorization: for a signed-in voter (the callback's address loaded again after
    it succeeded), where it led, without a failure message; for anyone else, the failure as before."""
    if not state or current_voter() is None:
        return _fail(MSG_SIGNIN_FAILED)
    claimed = get_store().get(_claim_key(state))
    return redirect(safe_local_path(claimed) or url_for("portal.home"))


@bp.get(CALLBACK_PATH)
def callback() -> Response:
    state = request.args.get("state", "")
    pending: dict[str, Any] = dict(session.get(PENDING_KEY) or {})
    transaction = pending.pop(state, None)
    session[PENDING_KEY] = pending
    if transaction is None:
        return _already_answered(state)
    purpose = transaction["purpose"]
    if not returned_issuer_matches(request.args.get("iss")):
        logger.warning("authorization response from another issuer ignored")
        return _fail(MSG_SIGNIN_FAILED)
    if request.args.get("error"):
        logger.info("authorization refused by the provider (%s)", request.args.get("error", "")[:40])
        if purpose == "vote":
            return _fail(MSG_VOTE_CODE_FAILED, "voting.index")
        return _fail(MSG_SIGNIN_FAILED)
    next_path = safe_local_path(transaction.get("next"))
    if not claim(state, next_path):
        logger.info("authorization response already taken by another request: its code is not exchanged again")
        return _twin(purpose, next_path)
    try:
        token = exchange_code()  # signature, iss, aud, exp, nonce, azp, at_hash checked
        claims = token["userinfo"]  # Authlib's name for the validated ID token claims
        if purpose == "signin":
            userinfo = released_claims(token)  # the ID token's when it carries them, else userinfo's
    except CALLBACK_ERRORS as exc:
        logger.warning("sign-in callback failed (%s)", type(exc).__name__)
        return _fail(
            MSG_VOTE_CODE_FAILED if purpose == "vote" else MSG_SIGNIN_FAILED,
            "voting.index" if purpose == "vote" and current_voter() else "portal.home",
        )
    if purpose == "signin":
        identifier = {**claims, **userinfo}.get("email") or claims["sub"]
        _audit("signin.accepted", str(identifier), claims)
        ticket = admission.admitted_ticket()
        sign_in(claims, userinfo, token["id_token"])
        admission.keep(ticket)
        admission.extend()
        return redirect(next_path or url_for("portal.home"))
    return _vote_callback(claims, token["id_token"], transaction, next_path)


def _vote_callback(
    claims: dict[str, Any], id_token: str, transaction: dict[str, Any], next_path: str | None
) -> Response:
    voter = current_voter()
    if voter is None:
        return redirect(url_for("signin.start", next=next_path))
    if claims.get("sub") != voter.sub:
        # Someone else signed in at the IdP in between: this session must not get their level, nor keep its own.
        sign_out()
        regenerate()
        return _fail("Votre session a été fermée car une autre identité a été utilisée. Reconnectez-vous.")
    problem = level_problem(claims)
    if problem is not None:
        logger.info("vote-code level not proved (%s), attempt %s", problem, transaction.get("attempt"))
        if int(transaction.get("attempt", 1)) < 2:
            return vote_authorization(next_path, attempt=2)
        return _fail(MSG_VOTE_CODE_FAILED, "voting.index")
    _audit("vote_level.reached", voter.email or voter.sub, claims)
    record_vote_level(claims, id_token)
    admission.extend()
    return redirect(next_path or url_for("voting.index"))


def _audit(type: str, identifier: str, claims: dict[str, Any]) -> None:
    amr = claims.get("amr")
    record_alone(
        get_db(),
        type,
        subject=voter_reference(identifier, get_db().audit_key),
        acr=claims.get("acr"),
        amr=[str(value) for value in amr] if isinstance(amr, list) else [],
    )


@bp.post("/deconnexion")
def sign_out_view() -> Response:
    admission.release()
    id_token = sign_out()
    regenerate()
    end_session = None
    if id_token:
        try:
            end_session = metadata().get("end_session_endpoint")
        except PROVIDER_ERRORS as exc:
            logger.warning("cannot reach the identity provider to sign out there (%s)", type(exc).__name__)
    if not end_session:
        flash(MSG_SIGNED_OUT, "success")
        return redirect(url_for("portal.home"))
    response: Response = get_client().logout_redirect(
        post_logout_redirect_uri=public_url(SIGNED_OUT_PATH), id_token_hint=id_token
    )
    return response


@bp.get(SIGNED_OUT_PATH)
def signed_out() -> Response:
    try:
        get_client().validate_logout_response()
    except OAuthError:
        logger.info("sign-out return without a known state")
    flash(MSG_SIGNED_OUT, "success")
    return redirect(url_for("portal.home"))
