"""The sign-in screens an authorization request is shown in its own answer, instead of a redirect to them.

When the OpenID Provider finds that a request needs a screen first (the identifier page, the vote-code step), it
used to answer with a redirect to that screen (``/login?next=…``, ``/login/vote-code?next=…``), whose only purpose
was the browser's next request: one more request with its fixed cost, its session read, and, for the vote-code
step, the voter read again. Sign-in sits below the provider and the screens are views nobody may import, so each
screen registers here what its GET would have answered (:func:`register`), and the provider shows it
(:func:`show`) with the same ``next``. The page is the same; its forms post to the screen's own address as before.
A screen that is not registered, or that cannot be shown (:data:`Show` returns None), is reached by the redirect.
Code that noted something when a screen's own page was requested (a plugin remembering the vote-code step's
``next``) hears of a screen shown this way through :func:`on_shown`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from werkzeug.wrappers import Response

#: What a screen's GET answers for ``next`` (a local path) and a ``login_hint`` (or None): the page and its status,
#: or None when it cannot be shown here (the browser is then sent to the screen).
Show = Callable[[str, str | None], tuple[str, int] | Response | None]
#: Told the endpoint of a screen shown in the provider's answer, and its ``next``.
Listener = Callable[[str, str], None]

_EXTENSION_KEY = "idp.auth.screens"
_LISTENERS_KEY = "idp.auth.screens.listeners"


def register(app: Flask, endpoint: str, show: Show) -> None:
    """Let the provider show the screen of ``endpoint`` in its own answer."""
    app.extensions.setdefault(_EXTENSION_KEY, {})[endpoint] = show


def on_shown(app: Flask, listener: Listener) -> None:
    """Have ``listener`` told each time a screen is shown in the provider's answer (after the page is built)."""
    app.extensions.setdefault(_LISTENERS_KEY, []).append(listener)


def show(endpoint: str, nxt: str, login_hint: str | None = None) -> tuple[str, int] | Response | None:
    """The page of the screen ``endpoint`` for ``next`` = ``nxt``, or None (then redirect the browser to it)."""
    screens: dict[str, Show] = current_app.extensions.get(_EXTENSION_KEY, {})
    screen = screens.get(endpoint)
    page = screen(nxt, login_hint) if screen is not None else None
    if page is not None:
        for listener in current_app.extensions.get(_LISTENERS_KEY, ()):
            listener(endpoint, nxt)
    return page
