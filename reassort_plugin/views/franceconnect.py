"""The vote-code réassort through FranceConnect: leave for the provider, come back with a match, "Générer un code".

The start is a GET, as FranceConnect buttons are links. It changes nothing of the voter's: it records the request
and a pending login in the store, then redirects; a forged link can only send a browser to the provider's page.

The link granted after a match is kept sealed in this browser's session, bound to the signed-in voter, and never
appears in a URL (so in no browser history and no access log): "Générer un code" posts here and goes through the
same link service as a link received by SMS or e-mail (window, single use, audit).
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from idp.plugin_api import (
    client_address,
    franceconnect_enabled,
    franceconnect_start,
    franceconnect_take_match,
    get_session,
    open_sealed,
    seal,
    signed_in_voter,
)
from reassort_plugin.forms import GenerateForm
from reassort_plugin.franceconnect_service import PURPOSE, Outcome, Result, before_start, conclude
from reassort_plugin.kinds import Kind
from reassort_plugin.link_service import generate_code, live_link, opened
from reassort_plugin.request_service import window_is_open
from reassort_plugin.settings import settings
from reassort_plugin.views.blueprint import bp
from reassort_plugin.views.code import show_generated, sign_in_first
from reassort_plugin.views.common import closed_page, link_invalid, lock_message

#: Session key of the granted link, sealed (see ``idp.plugin_api.seal``) as ``<voter id>:<token>``.
GRANT_KEY = "reassort_fc_link"
GRANT_SEAL = "reassort franceconnect link"


def _refused(result: Result) -> tuple[str, int]:
    if result.outcome is Outcome.CLOSED:
        return closed_page()
    if result.outcome is Outcome.LOCKED:
        return render_template("reassort/closed.html", message=lock_message(result.retry_after or 60)), 429
    assert result.outcome is Outcome.OTHER_VOTER
    return render_template("reassort/franceconnect_refused.html", again=url_for("reassort.code_choice")), 403


@bp.get("/code/franceconnect", endpoint="franceconnect_start")
def start() -> Response | tuple[str, int]:
    """The choice's button: checks the window and the lock here, so a refused voter does not make the round trip."""
    if not franceconnect_enabled():
        abort(404)
    voter = signed_in_voter()
    if voter is None:
        return sign_in_first()
    db = get_session()
    result = before_start(db, voter, client_address())
    db.commit()  # the request (or its refusal) is durable before the browser leaves for the provider
    if result.outcome is not Outcome.GO:
        return _refused(result)
    return franceconnect_start(
        url_for("reassort.after_franceconnect"), PURPOSE, back_url=url_for("reassort.code_choice")
    )


@bp.get("/code/franceconnect/retour")
def after_franceconnect() -> Response | tuple[str, int]:
    """Where the federation sends the browser after a match (its failures end on its own page)."""
    if not franceconnect_enabled():
        abort(404)
    match = franceconnect_take_match(PURPOSE)  # taken first: a match serves once, whatever happens next
    voter = signed_in_voter()
    if voter is None:
        return sign_in_first()
    if match is None:
        return redirect(url_for("reassort.code_choice"))
    db = get_session()
    result = conclude(db, voter, match, client_address())
    db.commit()  # the granted link (or the refusal and its lock) is stored before its token is sealed in the browser
    if result.outcome is not Outcome.GRANTED:
        return _refused(result)
    assert result.token is not None
    session[GRANT_KEY] = seal(GRANT_SEAL, f"{voter.id}:{result.token}")
    return redirect(url_for("reassort.franceconnect_generate"), code=303)


def _granted_token() -> str | None:
    """The token granted in this browser, if still within its validity and for the voter signed in here."""
    sealed = session.get(GRANT_KEY)
    value = open_sealed(GRANT_SEAL, sealed, settings().link_ttl) if isinstance(sealed, str) else None
    voter = signed_in_voter()
    if value is None or voter is None:
        return None
    voter_id, _, token = value.partition(":")
    return token if voter_id == str(voter.id) else None


@bp.route("/code/franceconnect/code", methods=["GET", "POST"])
def franceconnect_generate() -> Response | tuple[str, int]:
    """ "Générer un code" after FranceConnect: the page of a link received by message, without the link."""
    token = _granted_token()
    if token is None:
        session.pop(GRANT_KEY, None)
        return redirect(url_for("reassort.code_choice"))
    db = get_session()
    if request.method == "POST":
        generated = generate_code(db, token)
        db.commit()
        outcome = show_generated(generated)
        session.pop(GRANT_KEY, None)  # used, or refused for good (a closed window does not reopen)
        return outcome
    live = live_link(db, token, Kind.CODE)
    if live is None:
        session.pop(GRANT_KEY, None)
        return link_invalid(Kind.CODE)
    if not window_is_open():
        return closed_page()
    opened(db, live, Kind.CODE)
    db.commit()
    return render_template("reassort/link.html", form=GenerateForm()), 200
