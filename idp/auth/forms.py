"""Forms of the sign-in screens (flask-wtf: CSRF on every one of them)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from idp.auth.questions import QUESTIONS

REQUIRED = "Ce champ est obligatoire."
TOO_LONG = "Ce champ est trop long."


class IdentifierForm(FlaskForm):
    identifier = StringField("Identifiant", validators=[InputRequired(REQUIRED), Length(max=254, message=TOO_LONG)])
    captcha_id = HiddenField(validators=[InputRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    captcha = StringField("CAPTCHA", validators=[InputRequired(REQUIRED), Length(max=20, message=TOO_LONG)])


class PasswordForm(FlaskForm):
    password = PasswordField(
        "Mot de passe Élections",
        validators=[InputRequired(REQUIRED), Length(max=1024, message=TOO_LONG)],
    )


class ActivationRequestForm(FlaskForm):
    """No field: the identifier comes from the sign-in transaction; the form carries the CSRF token."""


class ActivationForm(FlaskForm):
    password = PasswordField(
        "Mot de passe Élections", validators=[InputRequired(REQUIRED), Length(max=1024, message=TOO_LONG)]
    )
    password_confirm = PasswordField(
        "Confirmation du mot de passe",
        validators=[
            InputRequired(REQUIRED),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
    )
    question = SelectField(
        "Question défi",
        choices=[
            SelectChoice("", "Choisissez une question"),
            *(SelectChoice(key, text) for key, text in QUESTIONS.items()),
        ],
        validators=[InputRequired("Choisissez une question défi.")],
        validate_choice=False,
    )
    answer = StringField(
        "Réponse secrète",
        validators=[
            InputRequired(REQUIRED),
            Length(min=2, max=200, message="La réponse secrète doit contenir entre 2 et 200 caractères."),
        ],
    )

    def validate_question(self, field: SelectField) -> None:
        if field.data not in QUESTIONS:
            raise ValidationError("Choisissez une question défi dans la liste.")
