"""Forms of the sign-in screens (flask-wtf: CSRF on every one of them)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from idp.auth.questions import QUESTIONS

REQUIRED = "Ce champ est obligatoire."


class IdentifierForm(FlaskForm):
    identifier = StringField("Identifiant", validators=[InputRequired(REQUIRED), Length(max=254)])
    captcha_id = HiddenField(validators=[InputRequired(REQUIRED), Length(max=64)])
    captcha = StringField("CAPTCHA", validators=[InputRequired(REQUIRED), Length(max=20)])


class PasswordForm(FlaskForm):
    password = PasswordField("Mot de passe Élections", validators=[InputRequired(REQUIRED), Length(max=1024)])


class ActivationRequestForm(FlaskForm):
    """No field: the identifier comes from the sign-in transaction; the form carries the CSRF token."""


class ActivationForm(FlaskForm):
    password = PasswordField("Mot de passe Élections", validators=[InputRequired(REQUIRED), Length(max=1024)])
    password_confirm = PasswordField(
        "Confirmation du mot de passe",
        validators=[InputRequired(REQUIRED), EqualTo("password", "Les deux mots de passe ne sont pas identiques.")],
    )
    question = SelectField("Question défi", choices=[("", "Choisissez une question"), *QUESTIONS.items()],
                           validators=[InputRequired("Choisissez une question défi.")])
    answer = StringField("Réponse secrète", validators=[InputRequired(REQUIRED), Length(min=2, max=200)])

    def validate_question(self, field: SelectField) -> None:
        from wtforms.validators import ValidationError

        if field.data not in QUESTIONS:
            raise ValidationError("Choisissez une question défi dans la liste.")
