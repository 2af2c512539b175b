"""Home, practical information, "Mes scrutins" and "Mon compte"."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date
from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from relying_party.db import get_session
from relying_party.elections.queries import find_mine, headline, my_scrutins, roll_page
from relying_party.elections.timefmt import LOCALE
from relying_party.models import CandidateList, utcnow
from relying_party.pages.content import EDITO, FAQ, TUTORIALS
from relying_party.signin.guards import login_required
from relying_party.signin.identity import PERSONAL_CLAIMS, current_voter

bp = Blueprint("portal", __name__)


@bp.get("/")
def home() -> str:
    voter = current_voter()
    if voter is None:
        return render_template("portal/home_public.html")
    items = my_scrutins(get_session(), voter.email, utcnow())
    return render_template("portal/home.html", voter=voter, scrutins=items, featured=headline(items), now=utcnow())


@bp.get("/informations/edito")
def edito() -> str:
    return render_template("portal/edito.html", paragraphs=EDITO)


@bp.get("/informations/faq")
def faq() -> str:
    return render_template("portal/faq.html", questions=FAQ)


@bp.get("/informations/tutoriels/<name>")
def tutorial(name: str) -> str:
    if name not in TUTORIALS:
        abort(404)
    title, steps = TUTORIALS[name]
    return render_template("portal/tutorial.html", title=title, steps=steps)


@bp.get("/mes-scrutins")
@login_required
def scrutins() -> str:
    voter = current_voter()
    assert voter is not None
    items = my_scrutins(get_session(), voter.email, utcnow(), with_lists=True)
    return render_template("portal/scrutins.html", scrutins=items, now=utcnow())


@bp.get("/mes-scrutins/listes-electorales")
@login_required
def rolls() -> str:
    voter = current_voter()
    assert voter is not None
    return render_template("portal/rolls.html", scrutins=my_scrutins(get_session(), voter.email, utcnow()))


@bp.get("/mes-scrutins/<code>/liste-electorale")
@login_required
def roll(code: str) -> str:
    voter = current_voter()
    assert voter is not None
    item = find_mine(my_scrutins(get_session(), voter.email, utcnow()), code)
    if item is None:
        abort(404)
    page = request.args.get("page", "1")
    result = roll_page(get_session(), item.scrutin.id, int(page) if page.isdigit() else 1)
    return render_template("portal/roll.html", item=item, roll=result)


@bp.get("/mes-scrutins/<code>/listes/<int:position>/profession-de-foi.pdf")
@login_required
def profession_de_foi(code: str, position: int) -> Response:
    voter = current_voter()
    assert voter is not None
    item = find_mine(my_scrutins(get_session(), voter.email, utcnow()), code)
    if item is None:
        abort(404)
    content = (
        get_session()
        .execute(
            select(CandidateList.profession_de_foi).where(
                CandidateList.scrutin_id == item.scrutin.id, CandidateList.position == position
            )
        )
        .scalar_one_or_none()
    )
    if not content:
        abort(404)
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="profession-de-foi-{code.lower()}-liste-{position}.pdf"'
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _display_claim(name: str, value: object) -> str:
    """Claims as a French reader expects them: "21 juillet 1985" rather than "1985-07-21"."""
    if name == "birthdate" and isinstance(value, str):
        try:
            return format_date(dt.date.fromisoformat(value), "d MMMM y", locale=LOCALE)
        except ValueError:
            return value
    if name == "academie" and isinstance(value, str):
        return value.replace("-", " ").title()
    return str(value)


@bp.get("/mon-compte")
@login_required
def account() -> str:
    return render_template("portal/account.html", voter=current_voter())


@bp.get("/mon-compte/informations-personnelles")
@login_required
def personal_information() -> str:
    voter = current_voter()
    assert voter is not None
    rows = [
        (label, _display_claim(name, voter.userinfo[name]))
        for name, label in PERSONAL_CLAIMS
        if voter.userinfo.get(name)
    ]
    return render_template("portal/personal_information.html", voter=voter, rows=rows)
