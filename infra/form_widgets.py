"""WTForms' HTML attributes, written the same but without a ``Markup.format`` per attribute.

Every form field of both apps is rendered by a WTForms widget, which writes its attributes with
``wtforms.widgets.html_params``: for each attribute, a ``Markup`` template formatted through Python's
``string.Formatter`` (several Markup objects and escapes each). The identifier page's four inputs spent more time
there than in the rest of their macro. :func:`html_params` gives the same text, character for character
(``tests/infra/test_form_widgets.py`` compares the two), from plain string operations; :func:`install` makes the
widgets use it, once per process.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets import core as widgets_core

#: WTForms' own function, kept for the comparison in the tests.
ORIGINAL = widgets_core.html_params
#: Attribute names as written (``_`` suffix dropped, ``data_``/``aria_`` hyphenated, escaped), by keyword: the
#: keywords are the code's and the templates' own, a few dozen; at most this many are kept.
MAX_NAMES = 512
_names: dict[str, str] = {}


def _name(key: str) -> str:
    name = _names.get(key)
    if name is None:
        name = str(escape(widgets_core.clean_key(key)))
        if len(_names) < MAX_NAMES:
            _names[key] = name
    return name


def html_params(**kwargs: Any) -> Markup:
    """WTForms' ``html_params``: ``key="value"`` pairs sorted by key, ``_`` suffixes dropped, ``data_``/``aria_``
    keys with hyphens, ``True`` as a bare attribute, ``False`` left out; keys and values escaped, and a double quote
    in a value given as ``Markup`` written ``&quot;``."""
    params: list[str] = []
    for key, value in sorted(kwargs.items()):
        if value is True:
            params.append(_name(key))
        elif type(value) is str:  # escaped, its double quotes with the rest (&#34;)
            params.append(f'{_name(key)}="{escape(value)}"')
        elif value is not False:
            params.append(f'{_name(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704 - every key and value escaped above


def install() -> None:
    """Make every WTForms widget write its attributes with :func:`html_params` (idempotent)."""
    if widgets_core.html_params is html_params:
        return
    widgets_core.html_params = html_params  # Select, TextArea, options, lists and tables
    widgets.html_params = html_params  # Label (wtforms.fields.core reads it from the package)
    widgets_core.Input.html_params = staticmethod(html_params)
    widgets_core.Button.html_params = staticmethod(html_params)
