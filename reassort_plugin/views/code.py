"""The vote-code réassort: "Choix du réassort", "Demande de réassort du code de vote", the link, the new code.

The voter starts signed in (password level) from the vote-code page. The link may be opened anywhere (an SMS on
a phone): it alone grants the new code, which alone is not enough to vote (the voter still signs in).
"""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from idp.plugin_api import SIGN_IN_ENDPOINT, get_session, open_sealed, question_text, seal, signed_in_voter
from reassort_plugin.choices import current_choices
from reassort_plugin.forms import CodeRequestForm, GenerateForm, NotedForm
from reassort_plugin.kinds import Kind
from reassort_plugin.link_service import Generated, Refusal, generate_code, live_link, opened
from reassort_plugin.navigation import vote_code_url
from reassort_plugin.request_service import window_is_open
from reassort_plugin.settings import settings
from reassort_plugin.views.blueprint import bp
from reassort_plugin.views.common import closed_page, handle_request, link_invalid

#: Session key of the new code, sealed (see ``idp.plugin_api.seal``) until the voter confirms they noted it.
CODE_KEY = "reassort_code"
SEAL_PURPOSE = "reassort vote code"


def sign_in_first() -> Response:
    """Not signed in (or the session ended): the vote-code réassort starts from a signed-in voter."""
    return redirect(url_for(SIGN_IN_ENDPOINT, next=url_for("reassort.code_choice")))


@bp.get("/code")
def code_choice() -> Response | tuple[str, int]:
    """ "Choix du réassort de votre code de vote"."""
    if signed_in_voter() is None:
        return sign_in_first()
    if not window_is_open():
        return closed_page()
    return render_template("reassort/choice.html", choices=current_choices(), back=vote_code_url()), 200


@bp.route("/code/defi", methods=["GET", "POST"])
def code_request() -> Response | tuple[str, int]:
    """ "Demande de réassort du code de vote": the voter's own question défi is shown."""
    voter = signed_in_voter()
    if voter is None:
        return sign_in_first()
    if not window_is_open():
        return closed_page()
    form = CodeRequestForm()
    form.login_identifier = voter.identifier
    return handle_request(
        form, Kind.CODE, voter, voter.identifier, question_text(voter.challenge_question), back=vote_code_url()
    )


@bp.get("/code/lien/<token>")
def code_link(token: str) -> tuple[str, int]:
    """The page the link opens: nothing changes until "Générer un code" (mail scanners open links too)."""
    db = get_session()
    live = live_link(db, token, Kind.CODE)
    if live is None:
        return link_invalid(Kind.CODE)
    if not window_is_open():
        return closed_page()
    opened(db, live, Kind.CODE)
    db.commit()
    return render_template("reassort/link.html", form=GenerateForm()), 200


@bp.post("/code/lien/<token>")
def code_generate(token: str) -> Response | tuple[str, int]:
    """ "Générer un code": consume the link and issue the code, then show it (POST-redirect-GET)."""
    db = get_session()
    outcome = generate_code(db, token)
    db.commit()  # before the code reaches the browser's session: a code shown is a code stored
    return show_generated(outcome)


def show_generated(outcome: Generated | Refusal) -> Response | tuple[str, int]:
    """After "Générer un code" (whatever the route): the refusal's page, or on to the new code (kept sealed)."""
    if outcome is Refusal.CLOSED:
        return closed_page()
    if outcome is Refusal.INVALID:
        return link_invalid(Kind.CODE)
    assert not isinstance(outcome, Refusal)
    session[CODE_KEY] = seal(SEAL_PURPOSE, outcome.code)
    return redirect(url_for("reassort.code_shown"), code=303)


@bp.route("/code/nouveau-code", methods=["GET", "POST"])
def code_shown() -> Response | tuple[str, int]:
    """The new code, shown (again on reload) until the voter ticks "J'ai noté mon code"; then "Voter"."""
    sealed = session.get(CODE_KEY)
    code = open_sealed(SEAL_PURPOSE, sealed, settings().link_ttl) if isinstance(sealed, str) else None
    if code is None:
        session.pop(CODE_KEY, None)
        return redirect(vote_code_url())
    form = NotedForm()
    if form.validate_on_submit():
        session.pop(CODE_KEY, None)
        return redirect(vote_code_url())
    status = 400 if request.method == "POST" else 200
    return render_template("reassort/code.html", code=code, spelled=_spelled(code), form=form), status


def _spelled(code: str) -> str:
    """``K 7 Q M, 3 X W D, 9 P R T A``: what a screen reader reads, character by character."""
    return ", ".join(" ".join(group) for group in code.split("-"))
