"""The sign-in and vote-code forms' inputs: WTForms' own widgets, which every app's factory makes write their
attributes with :func:`infra.form_widgets.html_params` (no widget of the IdP's own), in exactly WTForms' markup."""

from __future__ import annotations

from typing import Any

import pytest
from wtforms import widgets

from idp.auth.forms import IdentifierForm, PasswordForm
from idp.votecode.forms import VoteCodeForm
from infra import form_widgets


def rendered() -> list[str]:
    identifier = IdentifierForm(meta={"csrf": False})
    code = VoteCodeForm(meta={"csrf": False})
    password = PasswordForm(meta={"csrf": False}).password
    return [
        str(identifier.identifier(class_="fr-input", autocomplete="username", aria_invalid="true")),
        str(identifier.captcha(class_="fr-input", inputmode="numeric", aria_describedby="captcha-hint")),
        str(code.code(class_="fr-input fr-input--error", autocomplete="off", aria_describedby="code-hint code-error")),
        str(password(class_="fr-input", autocomplete="current-password")),
        str(identifier.identifier.label(class_="fr-label")),
    ]


def test_the_sign_in_fields_render_as_with_wtforms_own_attributes(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"identifier": 'x"<y>@ac-dijon.fr', "captcha": "12'34", "code": "K7QM&3XWD", "password": "p<>"}
    with app.test_request_context("/login", method="POST", data=data):
        for form in (IdentifierForm, PasswordForm, VoteCodeForm):
            for field in form(meta={"csrf": False}):
                if field.type != "HiddenField":  # written by the templates themselves
                    assert type(field.widget) in (widgets.TextInput, widgets.PasswordInput)
                    assert field.widget.html_params is form_widgets.html_params
        ours = rendered()
        monkeypatch.setattr(widgets.Input, "html_params", staticmethod(form_widgets.ORIGINAL))  # WTForms' own
        monkeypatch.setattr(widgets, "html_params", form_widgets.ORIGINAL)
        theirs = rendered()
    assert ours == theirs
    assert 'value="x&#34;&lt;y&gt;@ac-dijon.fr"' in ours[0] and 'value="K7QM&amp;3XWD"' in ours[2]
    assert 'value="' not in ours[3].replace('value=""', "")  # a password is never written back
