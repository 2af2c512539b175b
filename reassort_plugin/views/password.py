"""The password réassort: from the password page of a sign-in under way, the voter asks for a link, then sets a
new election password; every session of the voter ends.

The voter is not signed in: they are known only by the identifier typed at the identifier step, which may be no
voter's. Privacy: the question défi is *not* shown (showing it would tell anyone who types an identifier whether
it is a voter's, and which question they chose); the voter picks theirs from the list, and a wrong pick is one more
mismatch with the same uniform answer. Unknown identifiers go through the same checks, timing and counting.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp.plugin_api import (
    PASSWORD_MIN_LENGTH,
    PASSWORD_PAGE_ENDPOINT,
    SIGN_IN_ENDPOINT,
    SIGN_IN_RESTART_ENDPOINT,
    find_voter,
    get_session,
    hash_password,
    password_problems,
    pending_sign_in_identifier,
    sign_out,
)
from reassort_plugin.forms import NewPasswordForm, PasswordRequestForm
from reassort_plugin.kinds import Kind
from reassort_plugin.link_service import Refusal, live_link, opened, refuse, set_password
from reassort_plugin.views.blueprint import bp
from reassort_plugin.views.common import handle_request, link_invalid


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def password_request() -> Response | tuple[str, int]:
    identifier = pending_sign_in_identifier()
    if identifier is None:
        return redirect(url_for(SIGN_IN_ENDPOINT, expired=1))
    form = PasswordRequestForm()
    form.login_identifier = identifier
    voter = find_voter(get_session(), identifier) if request.method == "POST" else None
    return handle_request(form, Kind.PASSWORD, voter, identifier, None, back=url_for(PASSWORD_PAGE_ENDPOINT))


@bp.route("/mot-de-passe/lien/<token>", methods=["GET", "POST"])
def password_link(token: str) -> Response | tuple[str, int]:
    db = get_session()
    live = live_link(db, token, Kind.PASSWORD)
    if live is None:
        if request.method == "POST":
            refuse(db, token, Kind.PASSWORD, "used_or_expired")
            db.commit()
        return link_invalid(Kind.PASSWORD)
    form = NewPasswordForm()
    if request.method == "GET":
        opened(db, live, Kind.PASSWORD)
        db.commit()
        return _render(form)
    # Two transactions on purpose: the read above ends here, so that argon2 (below) does not run holding SQLite's
    # write lock; set_password then consumes the link atomically in the second (a link used meanwhile is refused).
    db.commit()
    if not form.validate():
        return _render(form, 400)
    password = form.password.data or ""
    problems = password_problems(password, live.voter.identifier)
    if problems:
        form.password.errors = problems
        return _render(form, 400)
    outcome = set_password(db, token, hash_password(password))
    db.commit()
    if isinstance(outcome, Refusal):
        return link_invalid(Kind.PASSWORD)
    sign_out()  # this browser too: its sign-in transaction (if any) belongs to the old password
    return render_template("reassort/password_done.html", restart=url_for(SIGN_IN_RESTART_ENDPOINT)), 200


def _render(form: NewPasswordForm, status: int = 200) -> tuple[str, int]:
    return render_template("reassort/password_link.html", form=form, min_length=PASSWORD_MIN_LENGTH), status
