"""``/authorize`` (GET and POST), its resumption after the sign-in screens, and the consent screen."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from werkzeug.wrappers import Response

from idp.db import get_session
from idp.oidc import authorization, transactions
from idp.oidc.authorization import AUTHORIZE, ConsentNeeded, Outcome
from idp.oidc.boundary import one_transaction
from idp.oidc.errors import error_page
from idp.oidc.forms import ConsentForm
from idp.oidc.provider import SCOPE_CLAIMS
from idp.oidc.transactions import params_of
from idp.oidc.views.blueprints import protocol_bp, ui_bp

#: What the voter is told each scope gives the application.
SCOPE_LABELS = {
    "openid": "un identifiant qui vous représente auprès de cette application (sans votre nom)",
    "profile": "vos nom, prénoms, sexe et date de naissance",
    "email": "votre adresse de messagerie académique",
    "academie": "votre académie",
}
assert set(SCOPE_LABELS) == set(SCOPE_CLAIMS)


@dataclass(frozen=True)
class _ConsentGiven:
    """The voter accepted: the consent is written, the request resumes once it is committed."""

    needed: ConsentNeeded


@protocol_bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Outcome:
    params = params_of(request.values)
    if request.method == "POST":
        return authorization.start(params)
    result = one_transaction(lambda: authorization.run(params, None))
    assert not isinstance(result, ConsentNeeded)
    return result


@protocol_bp.get("/authorize/resume")
def resume() -> Outcome:
    tx = transactions.load(AUTHORIZE, request.args.get("tx"))
    if tx is None:
        return error_page("expired")
    result = one_transaction(lambda: authorization.run(tx.params, tx))
    assert not isinstance(result, ConsentNeeded)
    return result


@ui_bp.route("/authorize/consent", methods=["GET", "POST"])
def consent() -> Outcome | Response:
    tx = transactions.load(AUTHORIZE, request.args.get("tx"))
    if tx is None:
        return error_page("expired")
    outcome = one_transaction(lambda: _consent(tx))
    if isinstance(outcome, _ConsentGiven):
        return authorization.resume_after_consent(outcome.needed)
    return outcome


def _consent(tx: transactions.Transaction) -> Outcome | Response | _ConsentGiven:
    result = authorization.run(tx.params, tx, consent_stage=True)
    if not isinstance(result, ConsentNeeded):
        return result
    form = ConsentForm()
    if request.method == "POST" and form.validate():
        if request.form.get("decision") == "allow":
            authorization.grant_consent(get_session(), result)
            return _ConsentGiven(result)
        return authorization.deny_consent(get_session(), result)
    labels = [SCOPE_LABELS[s] for s in result.scope.split() if s in SCOPE_LABELS]
    page = render_template(
        "idp/oidc/consent.html", client_name=result.client.client_name, scope_labels=labels, tx_id=tx.id, form=form
    )
    return page, 200 if request.method == "GET" else 400
