"""The Content-Security-Policy ``form-action`` directive during an authorization.

Browsers (Chromium) check ``form-action`` against every redirect that follows a form submission. The sign-in,
step-up and consent forms post to the IdP, whose answer ends, after redirects, at the client's redirect URI: with
``form-action 'self'`` alone, that last hop would be blocked. While an authorization is pending, the origin of its
redirect URI is added to the directive of the IdP's pages; nothing else about the policy changes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, session

_KEY = "oidc_form_action"


def origin_of(uri: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URI, as a CSP source expression; None otherwise."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def allow_form_action_to(redirect_uri: str) -> None:
    origin = origin_of(redirect_uri)
    if origin and session.get(_KEY) != origin:
        session[_KEY] = origin


def forget() -> None:
    if _KEY in session:
        session.pop(_KEY)


def init_app(app: Flask) -> None:
    # Registered before the security headers hook, so it runs after it (Flask runs them in reverse order).
    @app.after_request
    def _widen_form_action(response: Response) -> Response:
        origin = session.get(_KEY)
        csp = response.headers.get("Content-Security-Policy")
        if origin and csp and response.mimetype == "text/html" and "form-action 'self'" in csp:
            response.headers["Content-Security-Policy"] = csp.replace(
                "form-action 'self'", f"form-action 'self' {origin}", 1
            )
        return response
