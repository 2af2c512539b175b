""" "Formulaire de demande d'assistance" (open to everyone: a voter who cannot sign in needs it most) and
"Formuler une réclamation" (signed in): these views parse the forms, check the CAPTCHA and the rate limits, and
render; :mod:`relying_party.pages.support` stores each request with its reference, queues it for the support team and
records its audit event, in one transaction."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from relying_party.db import get_db, get_session
from relying_party.elections.queries import find_mine, my_scrutins
from relying_party.models import utcnow
from relying_party.pages import limits, support
from relying_party.pages.forms import (
    AnonymousAssistanceForm,
    AssistanceForm,
    ComplaintForm,
    as_choices,
)
from relying_party.signin.guards import login_required
from relying_party.signin.identity import current_voter
from relying_party.web.captcha import get_captcha

bp = Blueprint("requests", __name__)

OTHER_SCRUTIN = "autre"

MSG_CAPTCHA = "Le code de sécurité (CAPTCHA) est incorrect ou a expiré. Un nouveau code vous est proposé."
MSG_TOO_MANY = (
    "Trop de demandes ont été envoyées depuis votre connexion en peu de temps. Votre demande n'a pas été "
    "enregistrée : réessayez dans une heure."
)


def _render_assistance(form: AssistanceForm, status: int, error: str | None = None) -> tuple[str, int]:
    if isinstance(form, AnonymousAssistanceForm):
        form.captcha_id.data = get_captcha().new_challenge()
        form.captcha.data = ""
    return render_template("portal/assistance.html", form=form, error=error), status


@bp.route("/assistance", methods=["GET", "POST"])
def assistance() -> str | tuple[str, int]:
    voter = current_voter()
    form = AssistanceForm() if voter is not None else AnonymousAssistanceForm()
    if voter is not None and not form.is_submitted():
        form.contact_name.data = f"{voter.given_name} {voter.family_name}".strip()
        form.contact_email.data = voter.email
        form.academie.data = voter.userinfo.get("academie")
    if not form.validate_on_submit():
        return _render_assistance(form, 400 if form.is_submitted() else 200)
    if isinstance(form, AnonymousAssistanceForm) and not get_captcha().check(
        form.captcha_id.data or "", form.captcha.data or ""
    ):
        form.captcha.errors = [MSG_CAPTCHA]
        return _render_assistance(form, 400)
    if not limits.allowed(request.remote_addr or "unknown", voter.email or voter.sub if voter else None):
        return _render_assistance(form, 429, MSG_TOO_MANY)
    filed = support.AssistanceRequest(
        contact_name=form.contact_name.data.strip(),
        contact_email=form.contact_email.data.strip(),
        academie=(form.academie.data or "").strip() or None,
        topic=form.topic.data,
        message=form.message.data.strip(),
        voter=voter.email if voter else None,
        signed_in_as=(voter.email or voter.sub) if voter else None,
    )
    reference = support.file_assistance(
        get_db(), filed, support_email=current_app.config["SUPPORT_EMAIL"], now=utcnow()
    )
    return render_template("portal/request_done.html", kind="assistance", reference=reference)


@bp.route("/mes-scrutins/reclamation", methods=["GET", "POST"])
@login_required
def complaint() -> str | tuple[str, int]:
    voter = current_voter()
    assert voter is not None
    mine = my_scrutins(get_session(), voter.email, utcnow())
    form = ComplaintForm()
    form.scrutin.choices = as_choices(
        [("", "Choisissez le scrutin concerné")]
        + [(item.scrutin.code, item.scrutin.label) for item in mine]
        + [(OTHER_SCRUTIN, "Autre ou plusieurs scrutins")]
    )
    if not form.validate_on_submit():
        return render_template("portal/complaint.html", form=form), (400 if form.is_submitted() else 200)
    if not limits.allowed(request.remote_addr or "unknown", voter.email or voter.sub):
        return render_template("portal/complaint.html", form=form, error=MSG_TOO_MANY), 429
    item = find_mine(mine, form.scrutin.data)
    filed = support.ComplaintRequest(
        voter=voter.email or voter.sub,
        scrutin=(item.scrutin.id, item.scrutin.code) if item else None,
        topic=form.topic.data,
        message=form.message.data.strip(),
    )
    reference = support.file_complaint(get_db(), filed, support_email=current_app.config["SUPPORT_EMAIL"], now=utcnow())
    return render_template("portal/request_done.html", kind="reclamation", reference=reference)
