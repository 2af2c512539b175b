"""The form of the vote-code step (flask-wtf: CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length

from idp.auth.forms import REQUIRED, TOO_LONG


class VoteCodeForm(FlaskForm):
    code = StringField("Code de vote", validators=[InputRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    captcha_id = HiddenField(validators=[InputRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    captcha = StringField("CAPTCHA", validators=[InputRequired(REQUIRED), Length(max=20, message=TOO_LONG)])
