"""The sign-in forms' input widgets: WTForms' own, writing their attributes with :func:`infra.form_widgets.html_params`.

WTForms builds each attribute of an input through ``Markup.format`` (an escaping ``string.Formatter``): about 100 µs
of CPU for an input of ten attributes, the largest part of rendering the identifier and password pages' fields.
:func:`infra.form_widgets.html_params` builds the same text with plain string operations (about 20 µs); every app
made by :func:`infra.application.new_app` has all WTForms widgets use it, and these name it for the sign-in fields
whatever the process installed.
"""

from __future__ import annotations

from wtforms import widgets

from infra.form_widgets import html_params


class TextInput(widgets.TextInput):  # type: ignore[misc]  # WTForms has no type hints
    html_params = staticmethod(html_params)


class PasswordInput(widgets.PasswordInput):  # type: ignore[misc]
    html_params = staticmethod(html_params)
