"""``/authorize`` (GET and POST), its resumption after the sign-in screens, and the consent screen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp.auth.continuation import Answer, Write
from idp.db import get_session, read_until_write
from idp.oidc import authorization, transactions
from idp.oidc.authorization import AUTHORIZE, ConsentNeeded, Outcome
from idp.oidc.boundary import one_transaction
from idp.oidc.errors import error_page
from idp.oidc.forms import ConsentForm
from idp.oidc.provider import SCOPE_CLAIMS
from idp.oidc.transactions import params_of
from idp.oidc.views.blueprints import protocol_bp, ui_bp
from idp.store import get_store

#: What the voter is told each scope gives the application.
SCOPE_LABELS = {
    "openid": "un identifiant qui vous représente auprès de cette application (sans votre nom)",
    "profile": "vos nom, prénoms, sexe et date de naissance",
    "email": "votre adresse de messagerie académique",
    "academie": "votre académie",
}
assert set(SCOPE_LABELS) == set(SCOPE_CLAIMS)

#: The longest authorization request sent again through the browser (:func:`resume_in_place`), within what every
#: browser and proxy carries in a URL.
MAX_REDIRECT_LENGTH = 8000


@dataclass(frozen=True)
class _ConsentGiven:
    """The voter accepted: the consent is written, the request resumes once it is committed."""

    needed: ConsentNeeded


@protocol_bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Outcome:
    params = params_of(request.values)
    if request.method == "POST":
        read_until_write()  # the request is kept in the store: the database is only read
        return authorization.start(params)
    # The waiting request and the screen's CAPTCHA challenge: new random keys, sent together (one round trip).
    with get_store().batched():
        result = one_transaction(lambda: authorization.run(params, None, screen_in_place=True), reads_first=True)
    assert not isinstance(result, ConsentNeeded)
    return result


@protocol_bp.get("/authorize/resume")
def resume() -> Outcome:
    tx_id = request.args.get("tx")
    tx = transactions.load(AUTHORIZE, tx_id)
    if tx is None:
        # Completed moments ago (a twin: a form submitted twice whose other answer the browser dropped): the same
        # authorization request again, or the expired page.
        params = transactions.completed(AUTHORIZE, tx_id)
        again = _again(params) if params is not None else None
        return again if again is not None else error_page("expired")
    with get_store().batched():  # the screen's CAPTCHA challenge, with the store's next call
        result = one_transaction(lambda: authorization.run(tx.params, tx, screen_in_place=True), reads_first=True)
    assert not isinstance(result, ConsentNeeded)
    return result


def resume_in_place(path: str) -> Answer | None:
    """The resumption ``path`` (``/authorize/resume?tx=…``) answered by the sign-in screen that passes
    (:mod:`idp.auth.continuation`) instead of the browser's next request: the same procedure, in the same
    transaction rule, and the same answer — the redirect to the client with the code, ``state`` and ``iss``, or to
    the next screen. Called before the screen checks its secret: the waiting request is loaded now.

    A request completed moments ago (:func:`idp.oidc.transactions.completed`: a twin of this POST, the form
    submitted twice, finished first and its answer was dropped) is answered by the same authorization request again,
    as :func:`_resume_now` does when the twin completes it while this POST runs.

    None (the browser then goes to ``path`` as before) for any other path, for a request that expired (the resume
    page says so), and for ``form_post``, whose answer is a page, which a POST must not answer (a refresh would
    submit the form again); the answer is None too when it is not a redirect (an error page: the resume page's GET
    shows it).

    The screen's own write (its audit event) is committed in the transaction of the code it leads to; and on its
    own when the request ends otherwise (:func:`idp.oidc.boundary.one_transaction`'s ``first``).
    """
    parts = urlsplit(path)
    if parts.path != url_for("oidc.resume"):
        return None
    tx_ids = parse_qs(parts.query).get("tx", [])
    if len(tx_ids) != 1:
        return None
    tx = transactions.load(AUTHORIZE, tx_ids[0])
    if tx is None:
        params = transactions.completed(AUTHORIZE, tx_ids[0])
        if params is None or (params.get("response_mode") or ["query"])[0] != "query":
            return None
        return lambda write: _again_after(params, write)
    if (tx.first("response_mode") or "query") != "query":
        return None
    return lambda write: _resume_now(tx, write)


def _resume_now(tx: transactions.Transaction, write: Write) -> Response | None:
    uri = url_for("oidc.resume", tx=tx.id, _external=True)
    result = one_transaction(lambda: authorization.run(tx.params, tx, uri=uri), first=write)
    if isinstance(result, Response) and result.status_code in (302, 303):
        return result
    if transactions.load(AUTHORIZE, tx.id) is None:
        # A twin of this POST (the form submitted twice at once) completed the request first; the browser dropped
        # that answer and waits for this one. The same authorization request, asked again, is answered by the
        # session this POST has just opened: a code of its own (a transaction still yields one code at most).
        return _again(tx.params)
    return None


def _again_after(params: dict[str, list[str]], write: Write) -> Response | None:
    """The answer of a screen whose waiting request a twin completed before it started: ``write`` committed on its
    own, then the same request again."""
    session = get_session()
    write(session)
    session.commit()
    return _again(params)


def _again(params: dict[str, list[str]]) -> Response | None:
    """The authorization request ``params`` asked again (303 to ``/authorize``: a new request, answered by the
    session the browser has now), or None when its URL would be too long."""
    again = url_for("oidc.authorize") + "?" + urlencode(list(_pairs(params)))
    return redirect(again, 303) if len(again) <= MAX_REDIRECT_LENGTH else None


def _pairs(params: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    for name, values in params.items():
        for value in values:
            yield name, value


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
