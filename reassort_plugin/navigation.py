"""Where the voter goes back to: the vote-code step, with the ``next`` it had when the voter left it.

The vote-code page links here without arguments (a plugin link is a bare endpoint), yet the step must resume the
authorization request the voter came from (its ``next``). So when the browser opens the vote-code page (at its own
address, or in the answer of the authorization request, which the IdP tells of: :func:`note_screen`), the plugin
notes that page's ``next`` (a local path, checked by the suite's one rule, ``infra.redirects``) in the session;
"Voter", after a new code was generated, goes back to the step with it. A link opened on another device (an SMS
read on a phone) has no such note: "Voter" then opens the step alone, and the IdP's own sign-in leads on from
there.
"""

from __future__ import annotations

from flask import request, session, url_for

from idp.plugin_api import VOTE_CODE_ENDPOINT
from infra.redirects import safe_local_path

NEXT_KEY = "reassort_next"


def remember_vote_code_destination() -> None:
    """``before_app_request`` hook: note the ``next`` of the vote-code page when it is displayed."""
    if request.endpoint != VOTE_CODE_ENDPOINT or request.method != "GET":
        return
    _note(request.args.get("next"))


def note_screen(endpoint: str, nxt: str) -> None:
    """``idp.plugin_api.on_screen_shown`` listener: the vote-code page shown in an authorization request's answer."""
    if endpoint == VOTE_CODE_ENDPOINT:
        _note(nxt)


def _note(value: str | None) -> None:
    nxt = safe_local_path(value)
    if session.get(NEXT_KEY) == nxt:
        return  # unchanged: do not rewrite the session
    if nxt:
        session[NEXT_KEY] = nxt
    else:
        session.pop(NEXT_KEY, None)


def vote_code_url() -> str:
    nxt = safe_local_path(session.get(NEXT_KEY))
    return url_for(VOTE_CODE_ENDPOINT, next=nxt) if nxt else url_for(VOTE_CODE_ENDPOINT)
