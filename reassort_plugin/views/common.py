"""What the code and password screens share: the request form's handling, and the French answers.

The views own the transaction: the services write in the request's session and never commit; a view commits once,
right after the service call and before it answers or touches the browser's session, whatever the outcome (a
refusal's audit events count as much as a success's writes). An exception commits nothing (the session is rolled
back when the request ends).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import render_template, request, url_for
from werkzeug.wrappers import Response

from idp.plugin_api import SIGN_IN_RESTART_ENDPOINT, Voter, client_address, election_window, get_session, utcnow
from reassort_plugin.forms import CodeRequestForm, PasswordRequestForm
from reassort_plugin.kinds import Kind
from reassort_plugin.request_service import Outcome, Request, locked_for, reject, request_link
from reassort_plugin.settings import settings
from templates.durations import format_duration

PARIS = ZoneInfo("Europe/Paris")
#: One answer for every mismatch (and for an identifier that is no voter's), per kind of réassort.
MSG_WRONG = {
    Kind.CODE: (
        "Les informations saisies ne permettent pas de donner suite à votre demande. Vérifiez votre réponse secrète "
        "et votre NUMEN ou n°SS (10 premiers caractères), puis réessayez."
    ),
    Kind.PASSWORD: (
        "Les informations saisies ne permettent pas de donner suite à votre demande. Vérifiez la question défi "
        "choisie, votre réponse secrète et votre NUMEN ou n°SS (10 premiers caractères), puis réessayez."
    ),
}
MSG_TOO_MANY = (
    "Plusieurs liens vous ont déjà été envoyés dans l'heure. Utilisez le dernier reçu (un SMS ou un e-mail peut "
    "mettre quelques minutes à arriver) ou faites une nouvelle demande plus tard."
)
TITLES = {
    Kind.CODE: "Demande de réassort du code de vote",
    Kind.PASSWORD: "Demande de réassort du mot de passe Élections",
}


def paris_time(instant: dt.datetime, pattern: str = "EEEE dd MMMM y 'à' HH'h'mm") -> str:
    return format_datetime(instant, pattern, tzinfo=PARIS, locale="fr_FR")


def lock_message(seconds: int) -> str:
    until = paris_time(utcnow() + dt.timedelta(seconds=seconds), "HH'h'mm")
    return (
        "Par sécurité, le réassort est temporairement suspendu après plusieurs tentatives infructueuses. "
        f"Réessayez dans {format_duration(seconds, largest='hour')}, à partir de {until} (heure de Paris)."
    )


def closed_page() -> tuple[str, int]:
    """The clear answer outside the election window, instead of a code."""
    window, now = election_window(), utcnow()
    if window.has_not_opened(now):
        assert window.sealed_at is not None
        message = (
            "Le réassort du code de vote n'est pas encore ouvert : il le sera à partir du "
            f"{paris_time(window.sealed_at)} (heure de Paris)."
        )
    else:
        closes = f" depuis le {paris_time(window.closes_at)} (heure de Paris)" if window.closes_at else ""
        message = f"Le vote est clos{closes} : il n'est plus possible d'obtenir un nouveau code de vote."
    return render_template("reassort/closed.html", message=message), 403


def link_invalid(kind: Kind) -> tuple[str, int]:
    """A used or expired link: say so, and offer a new request."""
    again = url_for("reassort.code_choice") if kind is Kind.CODE else url_for(SIGN_IN_RESTART_ENDPOINT)
    return render_template(
        "reassort/link_invalid.html", kind=kind.value, again=again, validity=settings().link_validity()
    ), 410


def handle_request(
    form: CodeRequestForm, kind: Kind, voter: Voter | None, identifier: str, question: str | None, back: str
) -> Response | tuple[str, int]:
    """GET shows the form (with the lock message if locked); POST checks formats, then the answers, and sends.

    ``back`` is where "Retour" leads from the confirmation page (the vote-code or the password page).
    """
    address = client_address()

    def show(error: str | None = None, status: int = 200) -> tuple[str, int]:
        return render_template(
            "reassort/request.html",
            form=form,
            kind=kind.value,
            title=TITLES[kind],
            question=question,
            error=error,
            identifier=identifier if kind is Kind.PASSWORD else None,
            validity=settings().link_validity(),
            back=url_for("reassort.code_choice") if kind is Kind.CODE else back,
        ), status

    if request.method == "GET":
        locked = locked_for(identifier, address)
        return show(lock_message(locked) if locked else None)
    db = get_session()
    if not form.validate():
        reject(db, voter, kind, identifier, form.error_fields())
        db.commit()
        return show(status=400)
    assert form.identity_number is not None and form.destination is not None
    chosen = form.question.data if isinstance(form, PasswordRequestForm) else None
    result = request_link(
        db,
        voter,
        Request(kind, identifier, form.answer.data or "", form.identity_number, form.destination, question=chosen),
        address,
    )
    db.commit()
    if result.outcome is Outcome.SENT:
        return render_template(
            "reassort/sent.html",
            kind=kind.value,
            title=TITLES[kind],
            channel=form.destination.channel,
            masked=form.destination.masked,
            validity=settings().link_validity(),
            back=back,
        ), 200
    if result.outcome is Outcome.CLOSED:
        return closed_page()
    # The secrets typed are not sent back in the page.
    form.answer.data = ""
    form.identity.data = ""
    if result.outcome is Outcome.LOCKED:
        return show(lock_message(result.retry_after or 60), 429)
    if result.outcome is Outcome.TOO_MANY:
        return show(MSG_TOO_MANY, 429)
    return show(MSG_WRONG[kind], 401)
