"""Signing out of the provider too: when a voter whose session came through the federation signs out of the IdP,
the browser goes through the provider's end-session endpoint before reaching where the IdP's sign-out was sending
it (the portal's post-logout page, the sign-in page).

The IdP has several sign-out paths (its "Se déconnecter" screen, RP-initiated logout at ``/logout/end``, a session
ended by a password change) and the federation must not edit them. So it watches every request instead: a request
that starts with a signed-in session holding a federation marker and ends with no session has signed the voter
out; its response is kept aside (its ``Location``) and replaced by a page that sends the browser on (meta
refresh, and a link) to the provider's ``end_session_endpoint`` with ``id_token_hint``, ``state`` and the
registered ``post_logout_redirect_uri`` (``/federation/franceconnect/logged-out``), which then sends the browser on
to the kept ``Location``.

A sign-in clears the session (a new session at each sign-in): a marker set when the provider designated the
voter, before the election password, is carried into the new session when the voter who signed in is that one.

The provider's pages are reached after form submissions (the sign-out forms), which the ``form-action`` directive of
the Content-Security-Policy also governs in browsers that apply it to redirects: while a session holds a marker,
the provider's origin is added to that directive.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from flask import Flask, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from idp.auth.state import current_authentication
from idp.federation import journal, protocol
from idp.federation.errors import FederationError
from idp.federation.extension import get_federation
from idp.store import get_store

_MARKER = "federation_session"
_BEFORE = "_idp_federation_before"
#: Seconds the provider has to send the browser back after its end-session page.
LOGOUT_TTL = 900


def _key(state: str) -> str:
    return "federation:logout:" + hashlib.sha256(state.encode()).hexdigest()


def remember(*, id_token: str, voter_id: int, subject: str, origin: str) -> None:
    """Mark the browser's session as federated: at sign-out, the provider's session is ended too."""
    session[_MARKER] = {"id_token": id_token, "voter_id": voter_id, "subject": subject, "origin": origin}


def _marker() -> dict[str, Any] | None:
    value = session.get(_MARKER)
    return value if isinstance(value, dict) and isinstance(value.get("id_token"), str) else None


def _before_request() -> None:
    marker = _marker()
    if marker is not None:
        g.setdefault(_BEFORE, (marker, current_authentication() is not None))


def _after_request(response: Response) -> Response:
    before = g.pop(_BEFORE, None)
    if before is None:
        return response
    marker, was_signed_in = before
    auth = current_authentication()
    if auth is None:
        if was_signed_in and _marker() is None:
            return _end_provider_session(marker, response)
        return response
    if _marker() is None and auth.voter_id == marker.get("voter_id"):
        session[_MARKER] = marker  # the sign-in that followed the federated identification: same voter
    return response


def _end_provider_session(marker: dict[str, Any], response: Response) -> Response:
    federation = get_federation()
    if not federation.settings.enabled:
        return response
    try:
        metadata = federation.directory.metadata()
    except FederationError as error:
        # The IdP's session is over whatever happens; the provider's one will end by itself.
        journal.failed(error, purpose="logout", subject=marker.get("subject"))
        return response
    if metadata.end_session_endpoint is None:
        return response
    state = secrets.token_urlsafe(32)
    location = response.headers.get("Location") if 300 <= response.status_code < 400 else None
    get_store().set(_key(state), json.dumps({"location": location, "subject": marker.get("subject")}), LOGOUT_TTL)
    url = protocol.end_session_url(
        metadata,
        id_token=str(marker["id_token"]),
        state=state,
        post_logout_redirect_uri=federation.settings.public(url_for("federation.logged_out")),
    )
    journal.log("federation.logout_started", subject=marker.get("subject"), via=request.endpoint or "")
    # A page, not a redirect: the sign-out usually starts with a form of another site (the portal), and browsers
    # apply that site's ``form-action`` to every redirect that follows the submission, so a redirect to the
    # provider would be refused. The page's own navigation (meta refresh, or the link) is not a form submission.
    chained = Response(render_template("idp/federation/leaving.html", url=url), 200, mimetype="text/html")
    chained.headers["Cache-Control"] = "no-store"
    for cookie in response.headers.getlist("Set-Cookie"):
        chained.headers.add("Set-Cookie", cookie)
    return chained


def logged_out() -> Response | tuple[str, int]:
    """The provider's answer to the end-session request: on to where the IdP's sign-out was going."""
    state = request.args.get("state", "")
    raw = get_store().take(_key(state)) if state and len(state) <= 200 else None
    if raw is None:
        return render_template("idp/federation/logged_out.html"), 200
    kept = json.loads(raw)
    journal.log("federation.logout_completed", subject=kept.get("subject"))
    location = kept.get("location")
    if isinstance(location, str) and location:
        return redirect(location, 303)
    return render_template("idp/federation/logged_out.html"), 200


def _widen_form_action(response: Response) -> Response:
    marker = _marker()
    origin = marker.get("origin") if marker else None
    csp = response.headers.get("Content-Security-Policy")
    if (
        isinstance(origin, str)
        and origin
        and csp
        and response.mimetype == "text/html"
        and "form-action 'self'" in csp
        and origin not in csp
    ):
        response.headers["Content-Security-Policy"] = csp.replace(
            "form-action 'self'", f"form-action 'self' {origin}", 1
        )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
    # Runs before the security headers hook (Flask runs after-request functions in reverse order of
    # registration): its replacement response gets the same headers as any other.
    app.after_request(_after_request)
    # Must run after the hook that sets the Content-Security-Policy: first in the list, so last to run.
    app.after_request_funcs.setdefault(None, []).insert(0, _widen_form_action)
