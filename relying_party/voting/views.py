""" "Je vote": the voter's scrutins, the ballot, its confirmation and the receipt.

Every ballot page and every ballot submission checks, on the server, that the voter is on the roll, that the
scrutin is open, and that the vote-code step is fresh (:func:`relying_party.signin.identity.has_vote_level`).
The choice travels only in the forms (ballot → confirmation → submission): nothing about it is kept in the session.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from relying_party.db import get_db, get_session
from relying_party.elections.queries import MyScrutin, find_mine, my_scrutins
from relying_party.models import utcnow
from relying_party.pages.forms import BLANK, BallotForm, ConfirmForm, as_choices
from relying_party.signin import admission
from relying_party.signin.guards import login_required
from relying_party.signin.identity import current_voter, has_vote_level
from relying_party.voting import receipt_cache
from relying_party.voting.service import AlreadyVoted, VoteRefused, cast_ballot, not_open

bp = Blueprint("voting", __name__)

MSG_LEVEL = (
    "Pour voter, vous devez saisir le code de vote figurant sur votre notice de vote. Par sécurité, cette "
    "saisie n'est valable que quelques minutes : aucun bulletin n'a été déposé."
)


def _mine(code: str) -> MyScrutin:
    voter = current_voter()
    assert voter is not None
    item = find_mine(my_scrutins(get_session(), voter.email, utcnow(), with_lists=True), code)
    if item is None:
        abort(404)
    return item


def _refused(item: MyScrutin, message: str, status: int, *, reason: str) -> tuple[str, int]:
    return render_template("portal/vote_refused.html", item=item, message=message, reason=reason), status


def _choices(item: MyScrutin) -> list[tuple[str, str]]:
    return [(str(lst.id), f"Liste n° {lst.position} : {lst.display_name}") for lst in item.scrutin.lists] + [
        (BLANK, "Vote blanc")
    ]


def _step_up(code: str) -> Response:
    return redirect(url_for("signin.vote_code", next=url_for("voting.ballot", code=code)), 303)


@bp.get("/je-vote")
@login_required
def index() -> str:
    voter = current_voter()
    assert voter is not None
    items = my_scrutins(get_session(), voter.email, utcnow(), with_lists=True)
    return render_template("portal/vote_index.html", scrutins=items, has_level=has_vote_level())


@bp.route("/je-vote/<code>", methods=["GET", "POST"])
@login_required
def ballot(code: str) -> str | tuple[str, int] | Response:
    item = _mine(code)
    if item.voted:
        return _refused(item, AlreadyVoted().message, 200, reason="already_voted")
    refusal = not_open(item.scrutin, utcnow())
    if refusal is not None:
        return _refused(item, refusal.message, 200, reason=refusal.reason)
    if not has_vote_level():
        return _step_up(code)
    form = BallotForm()
    form.choice.choices = as_choices(_choices(item))
    if form.validate_on_submit():
        chosen = dict(_choices(item))[form.choice.data]
        confirm = ConfirmForm(formdata=None, choice=form.choice.data)
        return render_template("portal/vote_confirm.html", item=item, form=confirm, chosen=chosen)
    status = 400 if form.is_submitted() else 200
    return render_template("portal/vote_ballot.html", item=item, form=form), status


@bp.post("/je-vote/<code>/bulletin")
@login_required
def cast(code: str) -> tuple[str, int] | Response:
    item = _mine(code)
    voter = current_voter()
    assert voter is not None and voter.email
    if not has_vote_level():
        return _refused(item, MSG_LEVEL, 403, reason="no_level")
    form = ConfirmForm()
    choices = dict(_choices(item))
    if not form.validate_on_submit() or form.choice.data not in choices:
        return redirect(url_for("voting.ballot", code=code), 303)
    candidate_list_id = None if form.choice.data == BLANK else int(form.choice.data)
    try:
        result = cast_ballot(
            get_db(),
            scrutin_id=item.scrutin.id,
            voter_identifier=voter.email,
            candidate_list_id=candidate_list_id,
            now=utcnow(),
        )
    except AlreadyVoted as exc:
        return _refused(item, exc.message, 409, reason=exc.reason)
    except VoteRefused as exc:
        return _refused(item, exc.message, 403, reason=exc.reason)
    receipt_cache.remember(code, result.receipt)
    admission.release()
    return redirect(url_for("voting.receipt", code=code), 303)


@bp.get("/je-vote/<code>/recu")
@login_required
def receipt(code: str) -> str | Response:
    item = _mine(code)
    if not item.voted:
        return redirect(url_for("voting.ballot", code=code))
    return render_template("portal/vote_receipt.html", item=item, receipt=receipt_cache.recall(code))
