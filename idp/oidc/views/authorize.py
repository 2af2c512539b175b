"""``/authorize`` (GET and POST), its resumption after the sign-in screens, and the consent screen."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from idp.oidc import authorization, transactions
from idp.oidc.authorization import AUTHORIZE, ConsentNeeded, Outcome
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


@protocol_bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Outcome:
    params = params_of(request.values)
    if request.method == "POST":
        return authorization.start(params)
    result = authorization.run(params, None)
    assert not isinstance(result, ConsentNeeded)
    return result


@protocol_bp.get("/authorize/resume")
def resume() -> Outcome:
    tx = transactions.load(AUTHORIZE, request.args.get("tx"))
    if tx is None:
        return error_page("expired")
    result = authorization.run(tx.params, tx)
    assert not isinstance(result, ConsentNeeded)
    return result


@ui_bp.route("/authorize/consent", methods=["GET", "POST"])
def consent() -> Outcome | Response:
    tx = transactions.load(AUTHORIZE, request.args.get("tx"))
    if tx is None:
        return error_page("expired")
    result = authorization.run(tx.params, tx, consent_stage=True)
    if not isinstance(result, ConsentNeeded):
        return result
    form = ConsentForm()
    if request.method == "POST" and form.validate():
        if request.form.get("decision") == "allow":
            return authorization.grant_consent(result)
        return authorization.deny_consent(result)
    labels = [SCOPE_LABELS[s] for s in result.scope.split() if s in SCOPE_LABELS]
    page = render_template(
        "idp/oidc/consent.html", client_name=result.client.client_name, scope_labels=labels, tx_id=tx.id, form=form
    )
    return page, 200 if request.method == "GET" else 400
