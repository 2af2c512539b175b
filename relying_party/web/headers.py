"""Security headers on every response of the portal."""

from __future__ import annotations

from flask import Flask, Response

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_app(app: Flask, *, hsts: bool, form_action: str) -> None:
    """``form_action``: the IdP's origin. Browsers apply ``form-action`` to the redirects that follow a form's
    submission, and signing out is a POST answered by a redirect to the IdP's end-session endpoint."""
    csp = CSP.format(form_action=form_action)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if "Cache-Control" not in response.headers and response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response
