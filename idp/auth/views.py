"""The sign-in screens: "Accès au portail Élections", "Saisie du mot de passe Élections", sign-out."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from idp.auth import screens, service, transaction, wiring
from idp.auth.continuation import After
from idp.auth.forms import ActivationRequestForm, IdentifierForm, PasswordForm
from idp.auth.signout import end_session
from idp.auth.state import current_authentication, sign_in, sign_out
from idp.captcha import MSG_CAPTCHA, get_captcha, normalise_answer
from idp.db import get_session
from idp.delivery import composers
from idp.web import client_address, keyed_hasher
from templates.durations import format_duration

bp = Blueprint("login", __name__)


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    # « Recevoir mon lien d'activation » is queued as a request and composed by the delivery worker.
    assert isinstance(state.app, Flask)
    composers.register(state.app, service.ACTIVATION_REQUEST, wiring.compose_activation)
    # The provider shows the identifier page in its answer to an authorization request that needs a sign-in.
    screens.register(state.app, "login.identifier", _show_identifier)


MSG_IDENTIFIER = "L'identifiant doit être votre adresse de messagerie académique (prenom.nom@ac-academie.fr)."
MSG_WRONG = "Identifiant ou mot de passe Élections incorrect."


def _lock_message(seconds: int) -> str:
    return (
        "Par sécurité, la connexion est temporairement suspendue après plusieurs tentatives infructueuses. "
        f"Réessayez dans {format_duration(seconds, largest='hour')}."
    )


def _render_identifier(
    form: IdentifierForm, error: str | None = None, status: int = 200, *, expired: bool = False
) -> tuple[str, int]:
    form.captcha_id.data = get_captcha().new_challenge()
    form.captcha.data = ""
    page = render_template(
        "idp/login_identifier.html", form=form, error=error, next=transaction.next_path(), expired=expired
    )
    return page, status


def _identifier_page(nxt: str | None, hint: str | None, *, expired: bool = False) -> tuple[str, int]:
    """The identifier page's GET: ``next`` remembered, the identifier field filled with ``login_hint``."""
    transaction.remember_next(nxt)
    form = IdentifierForm(formdata=None)
    if hint:
        form.identifier.data = hint[:254]
    return _render_identifier(form, expired=expired)


def _show_identifier(nxt: str, hint: str | None) -> tuple[str, int]:
    return _identifier_page(nxt, hint)


@bp.route("/login", methods=["GET", "POST"])
def identifier() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _identifier_page(
            request.args.get("next"), request.args.get("login_hint"), expired=bool(request.args.get("expired"))
        )
    form = IdentifierForm()
    if not form.validate():
        return _render_identifier(form, status=400)
    submitted = (form.identifier.data or "", form.captcha_id.data or "", normalise_answer(form.captcha.data or ""))
    if transaction.is_twin(submitted):
        # The form sent twice (a double click): the first POST passed and used the CAPTCHA; the browser follows
        # this answer, which is the first one's.
        return redirect(url_for("login.password"))
    db = get_session()
    captcha_ok = get_captcha().check(form.captcha_id.data or "", form.captcha.data or "")
    result = service.identify(db, keyed_hasher(), form.identifier.data or "", captcha_ok=captcha_ok)
    db.commit()
    if result.outcome is service.IdentifierOutcome.CAPTCHA:
        form.captcha.errors = [MSG_CAPTCHA]
        return _render_identifier(form, status=400)
    if result.outcome is service.IdentifierOutcome.FORMAT:
        form.identifier.errors = [MSG_IDENTIFIER]
        return _render_identifier(form, status=400)
    assert result.identifier is not None
    transaction.start(result.identifier, submitted)
    return redirect(url_for("login.password"))


@bp.route("/login/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    identifier = transaction.pending_identifier()
    if identifier is None:
        return redirect(url_for("login.identifier", expired=1))
    form = PasswordForm()
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return render_template(
            "idp/login_password.html",
            form=form,
            identifier=identifier,
            error=None,
        ), status
    after = After(transaction.next_path(), url_for("login.signed_in"))
    result = service.check_password(
        get_session(), wiring.sign_in_context(), identifier, form.password.data or "", client_address()
    )
    if result.outcome is service.PasswordOutcome.OK:
        assert result.voter is not None and result.record is not None
        sign_in(voter_id=result.voter.id, subject=result.voter.subject, epoch=result.voter.session_epoch)
        try:
            return after.response(result.record)
        except BaseException:
            sign_out()  # no session signed in unless its login.succeeded was committed
            raise
    error = _lock_message(result.retry_after or 60) if result.outcome is service.PasswordOutcome.LOCKED else MSG_WRONG
    return render_template(
        "idp/login_password.html",
        form=PasswordForm(formdata=None),
        identifier=identifier,
        error=error,
    ), 401


@bp.post("/login/activation")
def request_activation() -> Response | tuple[str, int]:
    identifier = transaction.pending_identifier()
    if identifier is None:
        return redirect(url_for("login.identifier", expired=1))
    form = ActivationRequestForm()
    if not form.validate():
        return redirect(url_for("login.password"))
    db = get_session()
    service.request_activation(db, wiring.sign_in_context(), identifier)
    db.commit()
    validity = format_duration(int(current_app.config["ACTIVATION_LINK_TTL"]), largest="hour")
    return render_template("idp/activation_sent.html", validity=validity), 200


@bp.get("/login/restart")
def restart() -> Response:
    transaction.forget()
    return redirect(url_for("login.identifier"))


@bp.get("/")
def signed_in() -> Response | str:
    auth = current_authentication()
    if auth is None:
        return redirect(url_for("login.identifier"))
    return render_template("idp/signed_in.html", auth=auth)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    if request.method == "GET":
        return render_template("idp/logout.html", form=ActivationRequestForm())
    form = ActivationRequestForm()
    if form.validate() and current_authentication() is not None:
        # Ends the IdP session everywhere: the clients' sessions and tokens, back-channel logout notices, audit.
        db = get_session()
        end_session(db, via="idp_logout")
        db.commit()
        sign_out()
    return redirect(url_for("login.identifier"))
