""" "Je vote": the voter's scrutins, the ballot (encrypted in the browser), and the receipt.

Every ballot page and every submission checks, on the server, that the voter is on the roll, that the scrutin is
open and has its election key, and that the vote-code step is fresh (:func:`relying_party.signin.identity.
has_vote_level`). The choice never reaches the server: the page's script (``frontend/ballot/``, served under
``/assets/ballot/``) shows the confirmation, encrypts the choice with its proofs, and posts only the encrypted
ballot. Without JavaScript the page says why one cannot vote there and what to do.
"""

from __future__ import annotations

import json
from functools import partial

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from infra.sessions import ServerSession
from relying_party.db import get_db, get_session
from relying_party.elections.catalogue import election_of, get_catalogue
from relying_party.elections.queries import MyScrutin, find_mine, my_scrutins
from relying_party.models import Scrutin, utcnow
from relying_party.pages.forms import ballot_problem
from relying_party.signin import admission
from relying_party.signin.guards import login_required
from relying_party.signin.identity import current_voter, has_vote_level
from relying_party.voting import receipts
from relying_party.voting.election import ballot_nonce, fingerprint
from relying_party.voting.receipts import receipt_key
from relying_party.voting.service import (
    NO_KEY,
    REFUSALS,
    AlreadyVoted,
    VoteRefused,
    cast_ballot,
    not_open,
    rejected,
)
from votecrypto.ballot import Ballot, BallotRejected, display_code

bp = Blueprint("voting", __name__)

MSG_LEVEL = (
    "Pour voter, vous devez saisir le code de vote figurant sur votre notice de vote. Par sécurité, cette "
    "saisie n'est valable que quelques minutes : aucun bulletin n'a été déposé."
)
MSG_SESSION = "Votre session a expiré : aucun bulletin n'a été déposé. Reconnectez-vous pour voter."


def _mine(code: str) -> MyScrutin:
    voter = current_voter()
    assert voter is not None
    item = find_mine(my_scrutins(get_session(), voter.email, utcnow(), with_lists=True), code)
    if item is None:
        abort(404)
    return item


def _refused(item: MyScrutin, message: str, status: int, *, reason: str) -> tuple[str, int]:
    return render_template("portal/vote_refused.html", item=item, message=message, reason=reason), status


def _step_up(code: str) -> Response:
    return redirect(url_for("signin.vote_code", next=url_for("voting.ballot", code=code)), 303)


def _nonce(code: str) -> bytes | None:
    """The challenge of this session for this scrutin (derived from the session id, never stored)."""
    sid = session.sid if isinstance(session, ServerSession) else None
    if not sid:
        return None
    return ballot_nonce(str(current_app.config["SECRET_KEY"]), sid, code)


def _choices(scrutin: Scrutin) -> Markup:
    """The ballot's choices (lists, candidates, blank vote), the same for every voter: rendered once per process
    and scrutin, kept with the scrutin in the catalogue (its links depend on the app's script root only)."""
    key = ("portal/_ballot_choices.html", request.script_root)
    render = partial(render_template, "portal/_ballot_choices.html", scrutin=scrutin)
    return Markup(get_catalogue().fragment(scrutin, key, render))  # noqa: S704 - rendered by Jinja, autoescaped


@bp.get("/je-vote")
@login_required
def index() -> str:
    voter = current_voter()
    assert voter is not None
    items = my_scrutins(get_session(), voter.email, utcnow(), with_lists=True)
    # The scrutins that can receive ballots (their election key made): « Voter » leads to the vote-code step first.
    keyed = {item.scrutin.id for item in items if item.is_open and election_of(item.scrutin) is not None}
    return render_template("portal/vote_index.html", scrutins=items, has_level=has_vote_level(), keyed=keyed)


@bp.get("/je-vote/<code>")
@login_required
def ballot(code: str) -> str | tuple[str, int] | Response:
    item = _mine(code)
    if item.voted:
        return _refused(item, AlreadyVoted().message, 200, reason="already_voted")
    refusal = not_open(item.scrutin, utcnow())
    if refusal is not None:
        return _refused(item, refusal.message, 200, reason=refusal.reason)
    info = election_of(item.scrutin)
    if info is None:
        return _refused(item, NO_KEY, 200, reason="no_key")
    if not has_vote_level():
        return _step_up(code)
    nonce = _nonce(code)
    if nonce is None:
        return _refused(item, MSG_SESSION, 403, reason="no_session")
    return render_template(
        "portal/vote_ballot.html",
        item=item,
        choices=_choices(item.scrutin),
        election={
            "key": info.key.hex(),
            "hash": info.hash.hex(),
            "fingerprint": fingerprint(info.hash),
            "nonce": nonce.hex(),
            "options": info.options,
            "format": info.proof_format,
        },
    )


@bp.post("/je-vote/<code>/bulletin")
@login_required
def cast(code: str) -> tuple[str, int] | Response:
    """Every refusal answers with the voter's scrutin read from the database (and 404 for a scrutin whose roll
    they are not on, whatever else is wrong); a ballot accepted reads nothing before its transaction, which checks
    the roll and the window itself: the scrutin and its election come from the process's catalogue."""
    voter = current_voter()
    assert voter is not None and voter.email
    if not has_vote_level():
        return _refused(_mine(code), MSG_LEVEL, 403, reason="no_level")
    # The CSRF token was checked before the view (CSRFProtect); the form's one other field is the ballot.
    submitted = request.form.get("ballot", "")
    problem = ballot_problem(submitted)
    if problem is not None:
        message = f"Votre bulletin a été refusé. {problem} Aucun bulletin n'a été enregistré."
        return _refused(_mine(code), message, 400, reason="malformed")
    nonce = _nonce(code)
    if nonce is None:
        return _refused(_mine(code), MSG_SESSION, 403, reason="no_session")
    try:
        encrypted = Ballot.from_json(json.loads(submitted))
    except (ValueError, BallotRejected):
        refused = rejected("malformed")
        return _refused(_mine(code), refused.message, 400, reason=refused.reason)
    entry = get_catalogue().by_code(code)
    if entry is None:  # a scrutin this process has not read yet: through the voter's roll, as the pages do
        scrutin_id, info = (item := _mine(code)).scrutin.id, election_of(item.scrutin)
    else:
        scrutin_id, info = entry.scrutin.id, entry.election
    if info is None:
        return _refused(_mine(code), NO_KEY, 403, reason="no_key")
    try:
        cast_ballot(
            get_db(),
            info=info,
            scrutin_id=scrutin_id,
            voter_identifier=voter.email,
            ballot=encrypted,
            nonce=nonce,
            now=utcnow(),
            receipt_key=receipt_key(current_app.config),
        )
    except AlreadyVoted as exc:
        return _refused(_mine(code), exc.message, 409, reason=exc.reason)
    except VoteRefused as exc:
        item = _mine(code)  # not on the roll: 404, as for every page of a scrutin that is not the voter's
        status = 400 if exc.reason in REFUSALS else 403
        return _refused(item, exc.message, status, reason=exc.reason)
    admission.release()
    return redirect(url_for("voting.receipt", code=code), 303)


@bp.get("/je-vote/<code>/recu")
@login_required
def receipt(code: str) -> str | Response:
    item = _mine(code)
    voter = current_voter()
    assert voter is not None and voter.email
    if not item.voted:
        return redirect(url_for("voting.ballot", code=code))
    # The sealed receipt came with the voter's scrutins, in the page's one query.
    tracking = receipts.unseal(receipt_key(current_app.config), item.scrutin.id, voter.email, item.sealed_receipt)
    return render_template(
        "portal/vote_receipt.html", item=item, receipt=display_code(tracking) if tracking is not None else None
    )
