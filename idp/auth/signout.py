"""The end of a browser's IdP session, and the hook through which the features above sign-in take part in it.

Sign-in sits below the OpenID Provider, so it cannot call it: the provider registers a hook on each application
(:func:`on_session_end`) that ends the clients' sessions of this browser (tokens revoked, back-channel logout
notices queued). Every sign-out, the IdP's own « Se déconnecter » screen and the provider's end-session endpoint
alike, goes through :func:`end_session`, so no sign-out forgets the clients.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy.orm import Session

from idp.audit import record
from idp.auth.state import Authentication, current_authentication

#: A hook receives the request's database session and the authentication being ended (None if it had already
#: ended); it writes in that session and never commits.
SessionEndHook = Callable[[Session, Authentication | None], None]

_EXTENSION_KEY = "idp.auth.session_end_hooks"


def on_session_end(app: Flask, hook: SessionEndHook) -> None:
    """Run ``hook`` whenever a browser's IdP session ends in ``app`` (hooks run in the order registered)."""
    app.extensions.setdefault(_EXTENSION_KEY, []).append(hook)


def end_session(session: Session, *, via: str) -> None:
    """End this browser's IdP session in the database: the hooks, then the ``logout`` audit event (not committed).

    The caller commits, then clears the browser's session (:func:`idp.auth.state.sign_out`): in that order, a
    failed commit leaves the voter signed in, able to try again, rather than signed out with live client sessions.
    ``via`` names the route in the audit event (``idp_logout``, ``end_session``).
    """
    auth = current_authentication()
    hooks: list[SessionEndHook] = current_app.extensions.get(_EXTENSION_KEY, [])
    for hook in hooks:
        hook(session, auth)
    if auth is not None:
        record(session, "logout", subject=auth.subject, via=via)
