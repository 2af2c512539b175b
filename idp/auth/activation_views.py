"""The activation page reached from the link sent to the academic mailbox.

Opening the link (GET) changes nothing, so a mail scanner that pre-fetches it does no harm; only the form's POST
consumes the link.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from idp.auth import service, wiring
from idp.auth.forms import ActivationForm
from idp.db import get_session
from idp.models import Voter
from idp.security.password_policy import MIN_LENGTH, password_problems

bp = Blueprint("activation", __name__, url_prefix="/activation")


def _invalid() -> tuple[str, int]:
    return render_template("idp/link_invalid.html"), 410


@bp.route("/<token>", methods=["GET", "POST"])
def form(token: str) -> Response | tuple[str, int]:
    db = get_session()
    ctx = wiring.sign_in_context()
    link = service.find_link(db, ctx.keyed, token, service.ACTIVATION)
    voter = db.get(Voter, link.voter_id) if link else None
    if link is None or voter is None or voter.is_activated:
        return _invalid()
    form = ActivationForm()
    if form.validate_on_submit():
        problems = password_problems(form.password.data or "", voter.identifier)
        if problems:
            form.password.errors = problems
        else:
            result = service.complete_activation(
                db, ctx, token, form.password.data or "", form.question.data or "", form.answer.data or ""
            )
            if result.outcome is service.ActivationOutcome.INVALID_LINK:
                # Used by another request meanwhile (a double submit): undo this attempt, keep only its refusal.
                db.rollback()
                service.refuse_activation(db, result.subject)
                db.commit()
                return _invalid()
            db.commit()
            return render_template("idp/activation_done.html"), 200
    status = 400 if form.is_submitted() else 200
    return render_template("idp/activation.html", form=form, min_length=MIN_LENGTH), status
