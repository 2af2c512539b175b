"""The sign-in forms' widgets write exactly WTForms' markup (:mod:`idp.auth.widgets`), compared with WTForms' own
``html_params`` (every app's factory makes WTForms' widgets use the faster one: :mod:`infra.form_widgets`)."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import Markup
from wtforms import widgets

from idp.auth.forms import IdentifierForm, PasswordForm
from idp.auth.widgets import html_params
from infra.form_widgets import ORIGINAL

CASES: list[dict[str, Any]] = [
    {},
    {"id": "identifier", "name": "identifier", "type": "text", "value": "prenom.nom@ac-dijon.fr"},
    {"class_": "fr-input fr-input--error", "required": True, "disabled": False, "maxlength": 254},
    {"aria_describedby": "identifier-hint identifier-error", "aria_invalid": "true", "data_some_thing": "x"},
    {"value": "a \"quoted\" <b>&amp;</b> 'value'"},
    {"title": Markup('already "safe" <em>markup</em>'), "for_": "password"},
    {"value": 0, "size": 12.5, "autocomplete": None},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_html_params_writes_what_wtforms_writes(kwargs: dict[str, Any]) -> None:
    ours = html_params(**kwargs)
    assert isinstance(ours, Markup)
    assert ours == ORIGINAL(**kwargs)


def test_the_sign_in_fields_render_as_with_wtforms_widgets(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widgets.Input, "html_params", staticmethod(ORIGINAL))  # the reference: WTForms' own
    with app.test_request_context("/login", method="POST", data={"identifier": 'x"<y>@ac-dijon.fr', "password": "p"}):
        form = IdentifierForm(meta={"csrf": False})
        for field, attrs in (
            (form.identifier, {"class_": "fr-input", "autocomplete": "username", "aria_invalid": "true"}),
            (form.captcha, {"class_": "fr-input", "inputmode": "numeric"}),
        ):
            assert field(**attrs) == widgets.TextInput()(field, **attrs)
        password = PasswordForm(meta={"csrf": False}).password
        attrs = {"class_": "fr-input", "autocomplete": "current-password"}
        assert password(**attrs) == widgets.PasswordInput()(password, **attrs)
        assert 'value="' not in password(**attrs).replace('value=""', "")  # a password is never written back
