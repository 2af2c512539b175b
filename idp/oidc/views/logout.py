"""``/logout/end``: RP-initiated logout, with a confirmation screen when the request does not prove which session
it is about (no valid ``id_token_hint`` of this browser's session)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp.auth.state import sign_out
from idp.oidc import transactions
from idp.oidc.boundary import one_transaction, status_of
from idp.oidc.errors import error_page
from idp.oidc.forms import LogoutForm
from idp.oidc.logout import hint_matches_current_session
from idp.oidc.provider import get_provider
from idp.oidc.transactions import StoredRequest, Transaction, params_of
from idp.oidc.views.blueprints import protocol_bp, ui_bp

LOGOUT = "logout"

Outcome = Response | tuple[str, int]


def _ttl() -> int:
    return int(current_app.config["AUTHORIZATION_REQUEST_TTL"])


def _finish(params: dict[str, list[str]]) -> Outcome:
    """Validate again, end the session, redirect to the registered URI (with state) or show the logged-out page.

    The end of the session (client sessions, tokens, notices, audit) is committed before the browser's session is
    cleared: if the commit fails, the voter is still signed in and may try again.
    """
    server = get_provider().server
    try:
        validated = server.validate_endpoint_request("end_session", StoredRequest("GET", request.url, params))
    except OAuth2Error as error:
        return error_page("invalid_logout", 400, code=str(error.error))
    response = one_transaction(lambda: server.create_endpoint_response("end_session", validated))
    if status_of(response) >= 400:
        return response  # type: ignore[no-any-return]
    sign_out()
    if response is not None:
        return response  # type: ignore[no-any-return]
    return render_template("idp/oidc/logged_out.html"), 200


@protocol_bp.route("/logout/end", methods=["GET", "POST"])
def end_session() -> Outcome:
    params = params_of(request.values)
    if request.method == "POST":
        # A cross-site POST carries no SameSite=Lax cookie: continue as a top-level GET, which does.
        tx = transactions.save(Transaction(LOGOUT, params), _ttl())
        return redirect(url_for("oidc.continue_end_session", req=tx.id), 303)
    return _decide(params)


@protocol_bp.get("/logout/end/continue")
def continue_end_session() -> Outcome:
    tx = transactions.load(LOGOUT, request.args.get("req"))
    if tx is None or not transactions.take(LOGOUT, tx.id):
        return error_page("expired")
    return _decide(tx.params)


def _decide(params: dict[str, list[str]]) -> Outcome:
    server = get_provider().server
    try:
        validated = server.validate_endpoint_request("end_session", StoredRequest("GET", request.url, params))
    except OAuth2Error as error:
        return error_page("invalid_logout", 400, code=str(error.error))
    if validated.needs_confirmation or not hint_matches_current_session(validated):
        tx = transactions.save(Transaction(LOGOUT, params), _ttl())
        client_name = validated.client.client_name if validated.client is not None else None
        return render_template(
            "idp/oidc/logout_confirm.html", client_name=client_name, request_id=tx.id, form=LogoutForm()
        ), 200
    return _finish(params)


@ui_bp.post("/logout/end/confirm")
def confirm_logout() -> Outcome:
    form = LogoutForm()
    if not form.validate():
        return error_page("expired")
    tx = transactions.load(LOGOUT, request.args.get("req"))
    if tx is None or not transactions.take(LOGOUT, tx.id):
        return error_page("expired")
    return _finish(tx.params)
