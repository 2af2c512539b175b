""" "Saisie du code de vote": the step-up screen that raises a signed-in session to the vote-code level.

The OpenID Provider sends the browser here (``stepup.vote_code`` with ``next`` = where to resume the authorization
request) when a client asks for :data:`~idp.auth.state.ACR_VOTE_CODE`. On success the session gets that ``acr``,
``amr`` ``pwd`` + ``otp``, a fresh ``auth_time`` and a new id, and the browser goes on to ``next``.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from idp.auth import screens
from idp.auth.continuation import After
from idp.auth.state import ACR_VOTE_CODE, current_voter, sign_out, step_up
from idp.captcha import MSG_CAPTCHA, get_captcha, normalise_answer
from idp.db import get_session, read_until_write
from idp.models import Voter
from idp.store import get_store
from idp.votecode import service
from idp.votecode.forms import VoteCodeForm
from idp.web import keyed_hasher
from infra.redirects import safe_local_path
from infra.sessions import replaced
from templates.durations import format_duration

bp = Blueprint("stepup", __name__)


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    # The provider shows this page in its answer to an authorization request that asks for the vote-code level.
    assert isinstance(state.app, Flask)
    screens.register(state.app, "stepup.vote_code", _show)


#: One answer for a wrong code and for a voter who has none: the page reveals nothing about the account.
MSG_WRONG = (
    "Le code de vote saisi est incorrect. Vérifiez-le sur votre notice de vote : seul le dernier code reçu est valable."
)
MSG_MALFORMED = (
    "Ce n'est pas un code de vote : un code compte 13 caractères, chiffres de 2 à 9 et lettres, sans "
    "0 (zéro), O, 1 (un), I ni L. Recopiez-le tel qu'il figure sur votre notice."
)
#: What the vote-code step adds to the methods of the sign-in (RFC 8176: a one-time password).
AMR = ("otp",)
#: Session key, in the entry a step-up replaced only, of the CAPTCHA challenge that step-up used up and its answer.
TWIN_CAPTCHA = "votecode_twin_captcha"


def lock_message(seconds: int) -> str:
    return (
        "Par sécurité, la saisie du code de vote est temporairement suspendue après plusieurs codes incorrects. "
        f"Réessayez dans {format_duration(seconds, largest='hour')}."
    )


def _render(
    form: VoteCodeForm, nxt: str | None, error: str | None = None, status: int = 200, *, challenge: str | None = None
) -> tuple[str, int]:
    form.captcha_id.data = challenge or get_captcha().new_challenge()
    form.captcha.data = ""
    form.code.data = ""
    return render_template("idp/votecode/vote_code.html", form=form, next=nxt, error=error), status


def _step() -> service.StepContext:
    return service.context(current_app.config, get_store(), keyed_hasher())


def _page(voter: Voter, nxt: str | None) -> tuple[str, int]:
    """The page's GET for ``voter``: the lock's message when the step is locked for them.

    The CAPTCHA challenge is made first: in the provider's answer (a batched store), its write and the waiting
    request's go with the lock's read, in one round trip."""
    challenge = get_captcha().new_challenge()
    locked = service.locked_for(_step(), voter)
    error = lock_message(locked) if locked else None
    return _render(VoteCodeForm(formdata=None), nxt, error=error, challenge=challenge)


def _show(nxt: str, _hint: str | None) -> tuple[str, int] | None:
    found = current_voter()  # the provider has just read it: no second read
    return _page(found[1], nxt) if found is not None else None


def _answered_by_the_twin(captcha: list[str]) -> bool:
    """The form submitted twice (a double click), this POST after the other had passed: its session, the one that
    step-up replaced (:func:`infra.sessions.replaced`), notes that this very challenge was answered so. The vote
    code is still checked (and counted); the note lives as long as that entry, seconds."""
    noted = session.pop(TWIN_CAPTCHA, None) if replaced() else None  # not carried into the twin's new session
    return (
        isinstance(noted, list)
        and len(noted) == 2
        and bool(captcha[0])
        and hmac.compare_digest(str(noted[0]).encode(), captcha[0].encode())
        and hmac.compare_digest(str(noted[1]).encode(), captcha[1].encode())
    )


@bp.route("/login/vote-code", methods=["GET", "POST"])
def vote_code() -> Response | tuple[str, int]:
    nxt = safe_local_path(request.args.get("next"))
    if request.method == "GET":
        read_until_write()  # the page reads the voter; the lock and the CAPTCHA are in the store
    found = current_voter()  # None too when the voter's sessions were ended (password changed) or the account is gone
    if found is None:
        return redirect(url_for("login.identifier", next=url_for("stepup.vote_code", next=nxt)))
    voter = found[1]
    if request.method == "GET":
        return _page(voter, nxt)
    db = get_session()
    form = VoteCodeForm()
    step = _step()
    if not form.validate():
        return _render(form, nxt, status=400)
    captcha = [form.captcha_id.data or "", normalise_answer(form.captcha.data or "")]
    if not (get_captcha().check(*captcha) or _answered_by_the_twin(captcha)):
        service.reject(db, voter, "captcha")
        db.commit()
        form.captcha.errors = [MSG_CAPTCHA]
        return _render(form, nxt, status=400)
    after = After(nxt, url_for("login.signed_in"))
    result = service.check_entry(db, step, voter, form.code.data or "")
    if result.outcome is service.Outcome.OK:
        assert result.record is not None
        step_up(acr=ACR_VOTE_CODE, amr=AMR, twin_note={TWIN_CAPTCHA: captcha})
        try:
            return after.response(result.record)  # votecode.verified committed with the code
        except BaseException:
            sign_out()  # no session at the vote-code level unless its votecode.verified was committed
            raise
    db.commit()
    if result.outcome is service.Outcome.MALFORMED:
        form.code.errors = [MSG_MALFORMED]
        return _render(form, nxt, status=400)
    if result.outcome is service.Outcome.LOCKED:
        return _render(form, nxt, error=lock_message(result.retry_after or 60), status=429)
    return _render(form, nxt, error=MSG_WRONG, status=401)
