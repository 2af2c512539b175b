"""The sign-in under way in this browser: the identifier accepted at the first step, and where to go afterwards.

The identifier step (or a match through the federation, which replaces it) starts the transaction; the password page,
the activation request and a plugin's « mot de passe oublié » read it. It lives in the server-side session and
expires after ``IDP_LOGIN_TRANSACTION_TTL`` seconds: a voter who comes back later types the identifier again.
"""

from __future__ import annotations

import time

from flask import current_app, session

from infra.redirects import safe_local_path

_TX = "login_tx"
_NEXT = "login_next"


def start(identifier: str) -> None:
    """The identifier step is passed for ``identifier`` (normalised): the password page takes over."""
    session[_TX] = {"identifier": identifier, "started": time.time()}


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
