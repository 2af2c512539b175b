"""Forms of the portal, with French messages (WTForms' own French translations plus explicit messages)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def as_choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    """WTForms 3.2+ wants SelectChoice objects (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


INVALID_CHOICE = "Choisissez une des options proposées."


class PortalForm(FlaskForm):
    class Meta:
        locales = ("fr_FR", "fr")


ASSISTANCE_TOPICS = [
    ("", "Choisissez l'objet de votre demande"),
    ("identifiant", "Identifiant électeur"),
    ("mot_de_passe", "Mot de passe Élections"),
    ("code_de_vote", "Code de vote (notice non reçue, réassort)"),
    ("listes", "Listes électorales ou listes de candidats"),
    ("accessibilite", "Accessibilité"),
    ("autre", "Autre question"),
]

COMPLAINT_TOPICS = [
    ("", "Choisissez l'objet de votre réclamation"),
    ("inscription", "Inscription sur une liste électorale"),
    ("candidatures", "Listes de candidats"),
    ("deroulement", "Déroulement du vote"),
    ("autre", "Autre"),
]


class AssistanceForm(PortalForm):
    contact_name = StringField(
        "Nom et prénom",
        validators=[
            InputRequired(message="Indiquez votre nom et votre prénom."),
            Length(max=200, message="200 caractères au plus."),
        ],
    )
    contact_email = StringField(
        "Adresse électronique pour vous répondre",
        validators=[
            InputRequired(message="Indiquez une adresse électronique pour que l'assistance puisse vous répondre."),
            Length(max=254, message="254 caractères au plus."),
            Regexp(EMAIL_RE, message="Saisissez une adresse électronique valide, par exemple prenom.nom@ac-dijon.fr."),
        ],
    )
    academie = StringField(
        "Académie (facultatif)",
        validators=[
            Optional(),
            Length(max=100, message="100 caractères au plus."),
        ],
    )
    topic = SelectField(
        "Objet de votre demande",
        choices=as_choices(ASSISTANCE_TOPICS),
        invalid_choice_message=INVALID_CHOICE,
        validators=[
            DataRequired(message="Choisissez l'objet de votre demande."),
        ],
    )
    message = TextAreaField(
        "Votre message",
        validators=[
            InputRequired(message="Décrivez votre demande."),
            Length(min=10, max=5000, message="Votre message doit compter entre 10 et 5 000 caractères."),
        ],
    )


class AnonymousAssistanceForm(AssistanceForm):
    """The assistance form of someone not signed in: the same, plus a CAPTCHA (no mail from a script)."""

    captcha_id = HiddenField(validators=[InputRequired(message="Le CAPTCHA a expiré."), Length(max=64)])
    captcha = StringField(
        "CAPTCHA",
        validators=[
            InputRequired(message="Recopiez les chiffres du CAPTCHA."),
            Length(max=20, message="20 caractères au plus."),
        ],
    )


class ComplaintForm(PortalForm):
    scrutin = SelectField(
        "Scrutin concerné",
        invalid_choice_message=INVALID_CHOICE,
        validators=[
            DataRequired(message="Choisissez le scrutin concerné."),
        ],
    )
    topic = SelectField(
        "Objet de votre réclamation",
        choices=as_choices(COMPLAINT_TOPICS),
        invalid_choice_message=INVALID_CHOICE,
        validators=[
            DataRequired(message="Choisissez l'objet de votre réclamation."),
        ],
    )
    message = TextAreaField(
        "Votre réclamation",
        validators=[
            InputRequired(message="Décrivez votre réclamation."),
            Length(min=10, max=5000, message="Votre réclamation doit compter entre 10 et 5 000 caractères."),
        ],
    )


#: The largest encrypted ballot accepted (64 options of about 400 characters each, with room to spare).
MAX_BALLOT_CHARS = 64 * 1024
BALLOT_MISSING = "Le bulletin chiffré est absent : votre navigateur n'a pas pu le préparer."
BALLOT_TOO_LONG = "Le bulletin reçu est trop long."


def ballot_problem(submitted: str) -> str | None:
    """What is wrong with the ballot field of the ballot page's submission (the encrypted ballot as JSON, built by
    the browser), in the voter's words; None if it is there and not too long.

    That form carries nothing else but its CSRF token, which ``CSRFProtect`` checks for every POST before the view
    runs: no WTForms form is built for it, neither on the ballot page (two hidden inputs) nor on the submission. The
    choice itself is never in it: the radio buttons belong to another form, which is never sent.
    """
    if not submitted:
        return BALLOT_MISSING
    if len(submitted) > MAX_BALLOT_CHARS:
        return BALLOT_TOO_LONG
    return None
