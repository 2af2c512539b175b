"""Delivering an authorization response (success or error) to the client, in its response mode.

``query``: a redirect with the parameters in the query string. ``form_post``: an HTML page whose form the browser
posts to the redirect URI (OAuth 2.0 Form Post Response Mode), submitted by a script allowed through a CSP nonce,
with a visible button for browsers without JavaScript; that page's policy allows exactly the redirect URI's
origin as a form target.
"""

from __future__ import annotations

import secrets

from authlib.common.urls import add_params_to_uri
from flask import make_response, redirect, render_template
from werkzeug.wrappers import Response

from idp.oidc.csp import origin_of

RESPONSE_MODES = ("query", "form_post")

_FORM_POST_CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; form-action {origin}; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def deliver(redirect_uri: str, params: list[tuple[str, str]], mode: str) -> Response:
    if mode == "form_post":
        origin = origin_of(redirect_uri)
        assert origin is not None, "form_post is refused for non-http redirect URIs"
        nonce = secrets.token_urlsafe(16)
        page = render_template("idp/oidc/form_post.html", action=redirect_uri, params=params, nonce=nonce)
        response = make_response(page, 200)
        response.headers["Content-Security-Policy"] = _FORM_POST_CSP.format(nonce=nonce, origin=origin)
        response.headers["Cache-Control"] = "no-store"
        return response
    return redirect(add_params_to_uri(redirect_uri, params), 302)
