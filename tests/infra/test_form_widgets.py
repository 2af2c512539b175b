"""The form fields' attributes written by infra.form_widgets: the same HTML as WTForms' own, for every widget the
suite renders, and used by every app made by infra.application.new_app."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import Markup
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import core as widgets_core

from infra import form_widgets
from infra.application import new_app

ATTRIBUTES: list[dict[str, Any]] = [
    {},
    {"name": "identifier", "id": "identifier", "type": "text", "value": "prenom.nom@ac-dijon.fr"},
    {"value": "a\"b<c>&'d", "class_": "fr-input fr-input--error", "for_": "x", "required": True, "disabled": False},
    {"aria_describedby": "f-hint f-error", "aria_invalid": "true", "data_some_thing": 3, "maxlength": 50},
    {"value": Markup('déjà "échappé" &amp;'), "label": None, "checked": True},
    {"title": "<script>alert(1)</script>", "zz": "", "a": 0},
]


@pytest.mark.parametrize("attributes", ATTRIBUTES)
def test_the_same_text_as_wtforms(attributes: dict[str, Any]) -> None:
    ours = form_widgets.html_params(**attributes)
    theirs = form_widgets.ORIGINAL(**attributes)
    assert isinstance(ours, Markup)
    assert ours == theirs


class Everything(Form):
    identifier = StringField("Identifiant électeur", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Mot de passe", render_kw={"autocomplete": "current-password"})
    captcha_id = HiddenField(default='a"b')
    choice = SelectField(
        "Liste",
        choices=[SelectChoice("1", "Liste « A » & co", {"data_n": "1"}), SelectChoice("2", 'Liste "B"')],
        default="2",
    )
    radios = RadioField("Vote", choices=[SelectChoice("oui", "Oui"), SelectChoice("non", "<b>Non</b>")], default="non")
    agree = BooleanField("J'accepte", default=True)
    text = TextAreaField("Message", default="<p>bonjour</p>")
    submit = SubmitField("Valider")


def rendered() -> str:
    form = Everything(data={"identifier": 'x"y<z>'})
    form.validate()  # errors on some fields, as a page answering a bad POST shows them
    parts = []
    for field in form:
        parts.append(str(field.label(class_="fr-label")))
        parts.append(str(field(class_="fr-input", aria_describedby=f"{field.id}-hint", data_x="1")))
        if field.type == "RadioField":
            parts.extend(str(option(aria_invalid="true")) for option in field)
    return "\n".join(parts)


def test_every_widget_renders_the_same_html(monkeypatch: pytest.MonkeyPatch) -> None:
    form_widgets.install()
    ours = rendered()
    monkeypatch.setattr(widgets_core, "html_params", form_widgets.ORIGINAL)
    monkeypatch.setattr(widgets, "html_params", form_widgets.ORIGINAL)
    monkeypatch.setattr(widgets_core.Input, "html_params", staticmethod(form_widgets.ORIGINAL))
    monkeypatch.setattr(widgets_core.Button, "html_params", staticmethod(form_widgets.ORIGINAL))
    theirs = rendered()
    assert 'value="x&#34;y&lt;z&gt;"' in theirs and "<select" in theirs and "<textarea" in theirs
    assert ours == theirs


def test_every_app_renders_its_fields_with_it() -> None:
    new_app(
        __name__,
        {"SECRET_KEY": "test-secret-0123456789", "SESSION_COOKIE_NAME": "s", "TESTING": True},
        secure_cookies=False,
        max_content_length=1024,
    )
    assert widgets_core.html_params is form_widgets.html_params
    assert widgets.html_params is form_widgets.html_params
    assert widgets_core.TextInput.html_params is form_widgets.html_params
    assert widgets_core.SubmitInput.html_params is form_widgets.html_params
    form_widgets.install()  # again: nothing changes
    assert widgets_core.Input.html_params is form_widgets.html_params
