"""Forms of the réassort screens (flask-wtf: every form carries a CSRF token).

Formats are checked here, with the precise messages of :mod:`reassort_plugin.formats`; whether the values are the
voter's is decided by :mod:`reassort_plugin.request_service`. A form that validated holds the normalised values in
``identity_number`` and ``destination``.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, StopValidation, ValidationError

from idp.plugin_api import QUESTIONS, InvalidValue
from reassort_plugin.formats import (
    Destination,
    IdentityNumber,
    parse_identity_number,
    parse_mobile,
    parse_personal_email,
)

REQUIRED = "Ce champ est obligatoire."
TOO_LONG = "Ce champ est trop long."
CHANNELS = {
    "sms": "Envoi du lien d'activation par SMS sur votre smartphone personnel",
    "email": (
        "Envoi du lien d'activation par E-MAIL sur votre messagerie personnelle (cette messagerie personnelle doit "
        "être impérativement différente de celle qui est utilisée pour vous identifier au portail élections)"
    ),
}
MSG_CHANNEL = "Choisissez le canal d'envoi du lien : SMS ou E-MAIL."
MSG_EMAIL_REQUIRED = "Saisissez votre adresse mail personnelle pour recevoir le lien par e-mail."
MSG_PHONE_REQUIRED = "Saisissez le numéro de votre téléphone portable pour recevoir le lien par SMS."
MSG_QUESTION = "Choisissez votre question défi dans la liste."


class CodeRequestForm(FlaskForm):
    """ "Demande de réassort du code de vote" (the voter's question défi is shown, not asked)."""

    answer = StringField(
        "Saisissez votre réponse secrète :",
        validators=[InputRequired(REQUIRED), Length(max=200, message=TOO_LONG)],
    )
    identity = StringField(
        "Saisissez votre NUMEN ou n°SS (10 premiers caractères) :",
        validators=[InputRequired(REQUIRED), Length(max=40, message=TOO_LONG)],
    )
    channel = RadioField(
        "Canal d'envoi du lien",
        choices=[SelectChoice(key, text) for key, text in CHANNELS.items()],
        validate_choice=False,
        validators=[InputRequired(MSG_CHANNEL)],
    )
    email = StringField("Adresse mail personnelle", validators=[Length(max=254, message=TOO_LONG)])
    phone = StringField("Numéro de téléphone portable personnel", validators=[Length(max=30, message=TOO_LONG)])

    #: Set by the view before validating: the voter's login identifier (the personal address must differ).
    login_identifier: str = ""
    identity_number: IdentityNumber | None = None
    destination: Destination | None = None

    def validate_identity(self, field: StringField) -> None:
        try:
            self.identity_number = parse_identity_number(field.data or "")
        except InvalidValue as exc:
            raise ValidationError(_sentence(exc)) from None

    def validate_channel(self, field: RadioField) -> None:
        if field.data not in CHANNELS:
            raise StopValidation(MSG_CHANNEL)

    def validate_email(self, field: StringField) -> None:
        if self.channel.data != "email":
            return
        if not (field.data or "").strip():
            raise StopValidation(MSG_EMAIL_REQUIRED)
        try:
            self.destination = Destination("email", parse_personal_email(field.data or "", self.login_identifier))
        except InvalidValue as exc:
            raise ValidationError(_sentence(exc)) from None

    def validate_phone(self, field: StringField) -> None:
        if self.channel.data != "sms":
            return
        if not (field.data or "").strip():
            raise StopValidation(MSG_PHONE_REQUIRED)
        try:
            self.destination = Destination("sms", parse_mobile(field.data or ""))
        except InvalidValue as exc:
            raise ValidationError(_sentence(exc)) from None

    def error_fields(self) -> list[str]:
        """Names of the fields in error (for the audit log: never their values)."""
        return [name for name, f in self._fields.items() if f.errors]


class PasswordRequestForm(CodeRequestForm):
    """Password réassort: the voter is not signed in, so their question défi is chosen, never shown."""

    question = SelectField(
        "Votre question Défi :",
        choices=[
            SelectChoice("", "Choisissez votre question défi"),
            *(SelectChoice(key, text) for key, text in QUESTIONS.items()),
        ],
        validate_choice=False,
        validators=[InputRequired(MSG_QUESTION)],
    )

    def validate_question(self, field: SelectField) -> None:
        if field.data not in QUESTIONS:
            raise ValidationError(MSG_QUESTION)


class GenerateForm(FlaskForm):
    """ "Générer un code": no field, the CSRF token only (a POST, so that opening the link changes nothing)."""


class NotedForm(FlaskForm):
    noted = BooleanField(
        "J'ai noté mon code",
        validators=[
            DataRequired("Cochez « J'ai noté mon code » une fois votre code recopié : il ne sera plus affiché ensuite.")
        ],
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "Nouveau mot de passe Élections", validators=[InputRequired(REQUIRED), Length(max=1024, message=TOO_LONG)]
    )
    password_confirm = PasswordField(
        "Confirmation du mot de passe",
        validators=[InputRequired(REQUIRED), EqualTo("password", "Les deux mots de passe ne sont pas identiques.")],
    )


def _sentence(exc: InvalidValue) -> str:
    """The import's messages start lower-case and have no final stop; on a form they are sentences."""
    text = str(exc)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
