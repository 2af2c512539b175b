""" "Formulaire de demande d'assistance" (open to everyone: a voter who cannot sign in needs it most) and
"Formuler une réclamation" (signed in). Both are stored with a reference shown to the voter and queued in the
portal's outbox for the support team, in the same transaction, with their audit event (reference and topic; never
the message, the contact address or the name)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy.exc import IntegrityError

from relying_party.audit import record, voter_reference
from relying_party.db import get_db, get_session
from relying_party.elections.queries import find_mine, my_scrutins
from relying_party.models import Complaint, SupportRequest, utcnow
from relying_party.outbox.queue import enqueue
from relying_party.pages import limits
from relying_party.pages.forms import (
    ASSISTANCE_TOPICS,
    COMPLAINT_TOPICS,
    AnonymousAssistanceForm,
    AssistanceForm,
    ComplaintForm,
    as_choices,
)
from relying_party.pages.references import new_reference
from relying_party.signin.guards import login_required
from relying_party.signin.identity import current_voter
from relying_party.web.captcha import get_captcha

bp = Blueprint("requests", __name__)

OTHER_SCRUTIN = "autre"
#: A reference collision (about 37 bits each) is retried with a new one.
_ATTEMPTS = 3


def _label(choices: list[tuple[str, str]], value: str) -> str:
    return dict(choices).get(value, value)


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
    for _ in range(_ATTEMPTS):
        reference = new_reference("AST")
        try:
            with get_db().transaction() as session:
                session.add(
                    SupportRequest(
                        reference=reference,
                        contact_name=form.contact_name.data.strip(),
                        contact_email=form.contact_email.data.strip(),
                        academie=(form.academie.data or "").strip() or None,
                        topic=form.topic.data,
                        message=form.message.data.strip(),
                        voter_identifier=voter.email if voter else None,
                        created_at=utcnow(),
                    )
                )
                enqueue(
                    session,
                    recipient=current_app.config["SUPPORT_EMAIL"],
                    subject=f"[Portail Élections] Demande d'assistance {reference}",
                    body=_assistance_body(reference, form, voter.email if voter else None),
                )
                record(
                    session,
                    "assistance.requested",
                    subject=voter_reference(voter.email or voter.sub, get_db().audit_key) if voter else None,
                    reference=reference,
                    topic=form.topic.data,
                    signed_in=voter is not None,
                )
        except IntegrityError:
            continue
        return render_template("portal/request_done.html", kind="assistance", reference=reference)
    raise RuntimeError("could not draw a unique reference")


def _assistance_body(reference: str, form: AssistanceForm, identifier: str | None) -> str:
    return "\n".join(
        [
            f"Demande d'assistance {reference}",
            f"Objet : {_label(ASSISTANCE_TOPICS, form.topic.data)}",
            f"Nom : {form.contact_name.data}",
            f"Adresse pour répondre : {form.contact_email.data}",
            f"Académie : {form.academie.data or '-'}",
            f"Électeur connecté : {identifier or 'non'}",
            "",
            form.message.data,
        ]
    )


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
    scrutin_id = item.scrutin.id if item else None
    for _ in range(_ATTEMPTS):
        reference = new_reference("REC")
        try:
            with get_db().transaction() as session:
                session.add(
                    Complaint(
                        reference=reference,
                        voter_identifier=voter.email or voter.sub,
                        scrutin_id=scrutin_id,
                        topic=form.topic.data,
                        message=form.message.data.strip(),
                        created_at=utcnow(),
                    )
                )
                enqueue(
                    session,
                    recipient=current_app.config["SUPPORT_EMAIL"],
                    subject=f"[Portail Élections] Réclamation {reference}",
                    body="\n".join(
                        [
                            f"Réclamation {reference}",
                            f"Scrutin : {item.scrutin.code if item else 'autre'}",
                            f"Objet : {_label(COMPLAINT_TOPICS, form.topic.data)}",
                            f"Électeur : {voter.email or voter.sub}",
                            "",
                            form.message.data,
                        ]
                    ),
                )
                record(
                    session,
                    "complaint.filed",
                    subject=voter_reference(voter.email or voter.sub, get_db().audit_key),
                    reference=reference,
                    scrutin=item.scrutin.code if item else None,
                    topic=form.topic.data,
                )
        except IntegrityError:
            continue
        return render_template("portal/request_done.html", kind="reclamation", reference=reference)
    raise RuntimeError("could not draw a unique reference")
