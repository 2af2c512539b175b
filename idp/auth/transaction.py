"""The sign-in under way in this browser: the identifier accepted at the first step, and where to go afterwards.

The identifier step (or a match through the federation, which replaces it) starts the transaction; the password page,
the activation request and a plugin's « mot de passe oublié » read it. It lives in the server-side session and
expires after ``IDP_LOGIN_TRANSACTION_TTL`` seconds: a voter who comes back later types the identifier again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from flask import current_app, session

from infra.redirects import safe_local_path

_TX = "login_tx"
_NEXT = "login_next"
#: Seconds during which the identifier form submitted again as it was (a double click whose second POST arrives
#: after the first was answered) is answered as the first was, instead of failing on its CAPTCHA, already used.
TWIN_WINDOW = 30


def start(identifier: str, form: Sequence[str] | None = None) -> None:
    """The identifier step is passed for ``identifier`` (normalised): the password page takes over. ``form``: the
    submission that passed it (the identifier as typed, the CAPTCHA challenge and its answer, normalised)."""
    session[_TX] = {"identifier": identifier, "started": time.time(), "form": list(form) if form else None}


def is_twin(form: Sequence[str]) -> bool:
    """Whether ``form`` (as given to :func:`start`) is the submission that started this browser's sign-in, within
    :data:`TWIN_WINDOW` seconds: the same session, identifier, CAPTCHA challenge and answer, sent again."""
    tx = session.get(_TX)
    if not isinstance(tx, dict) or time.time() - float(tx.get("started", 0)) > TWIN_WINDOW:
        return False
    return tx.get("form") == list(form)


def pending_identifier() -> str | None:
    """The identifier of the sign-in under way, or None if there is none or it expired (then it is forgotten)."""
    tx = session.get(_TX)
    if not isinstance(tx, dict):
        return None
    if time.time() - float(tx.get("started", 0)) > current_app.config["LOGIN_TRANSACTION_TTL"]:
        session.pop(_TX, None)
        return None
    return str(tx["identifier"])


def forget() -> None:
    """Start again at the identifier step (« Modifier l'identifiant »)."""
    session.pop(_TX, None)


def remember_next(path: str | None) -> None:
    """Where to send the browser once signed in, if ``path`` is a local path (anything else is ignored)."""
    nxt = safe_local_path(path)
    if nxt:
        session[_NEXT] = nxt


def next_path() -> str | None:
    """The local path to go to after signing in, or None."""
    return safe_local_path(session.get(_NEXT))
