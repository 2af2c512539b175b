"""Where the browser goes once a sign-in screen has passed, answered in that screen's own response when it can be.

The password and vote-code screens end with a redirect to ``next``. When ``next`` resumes an authorization request
of the OpenID Provider, following it used to cost the browser one more request whose only answer was another
redirect, to the client with the code. Sign-in sits below the provider and cannot call it, so the provider
registers a resolver on each application (:func:`on_continue`). The screen asks it, before it checks the secret,
what ``next`` will need (:class:`After`: the provider loads the waiting request then, while a twin of the same POST,
the form submitted twice, cannot have completed it yet); once the screen has passed and written the new session,
the resolver answers what ``next`` would have answered, or None, and the browser goes to ``next`` as before.

What the screen writes once its secret has passed (its audit event: ``login.succeeded``, ``votecode.verified``) is
handed to :meth:`After.response` as a :data:`Write` instead of being committed by the screen: the resolver writes it
in the transaction that issues the code (one transaction instead of two) and commits it whatever its answer —
written again on its own after a rollback —, or, when ``next`` is not the resolver's, it is committed before the
redirect. Either way it is committed exactly once, before the answer leaves.

The screen's POST still answers with a redirect (to the client, to the consent screen…), never with a page: a
refresh does not submit the form again (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, redirect
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.db import get_session

#: The screen's own write once its secret has passed, given the request's session; it does not commit.
Write = Callable[[Session], None]
#: What answers ``next`` once the screen has passed: the redirect ``next`` would have answered, or None; it commits
#: the screen's :data:`Write` in any case (with its own writes, or alone), and even when it raises, if it can.
Answer = Callable[[Write], Response | None]
#: Receives the local path ``next`` before the screen checks its secret; returns its :data:`Answer`, or None for a
#: path it does not answer.
Resolver = Callable[[str], Answer | None]

_EXTENSION_KEY = "idp.auth.continuation"


def on_continue(app: Flask, resolver: Resolver) -> None:
    """Let ``resolver`` answer for the paths it knows once a sign-in screen has passed (one per application)."""
    app.extensions[_EXTENSION_KEY] = resolver


class After:
    """Where a sign-in screen sends the browser once it has passed: built before the secret is checked."""

    def __init__(self, nxt: str | None, default: str) -> None:
        """``nxt``: a local path already checked (:func:`infra.redirects.safe_local_path`), or None for
        ``default``."""
        self.target = nxt or default
        resolver: Resolver | None = current_app.extensions.get(_EXTENSION_KEY) if nxt else None
        self._answer = resolver(nxt) if resolver is not None and nxt else None

    def response(self, write: Write) -> Response:
        """The answer of the screen that passed (call it once the new session is written), ``write`` committed."""
        if self._answer is None:
            session = get_session()
            write(session)
            session.commit()
            return redirect(self.target)
        answer = self._answer(write)
        return answer if answer is not None else redirect(self.target)
