"""Security headers on every response of an app, and its Content-Security-Policy.

Every page forbids framing (``frame-ancestors 'none'`` and ``X-Frame-Options``), sniffing, referrers, the camera,
microphone and location, and opener access; HSTS is sent outside development; pages (HTML) are never cached, since
they show personal data or carry CSRF tokens. A view that sets a header itself keeps its own value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlsplit

from flask import Flask, Response

#: The policy of the suite's pages: everything from the app itself, inline nothing, framing nowhere.
BASE_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}

HSTS = "max-age=63072000; includeSubDomains"


def content_security_policy(
    *, form_action: Iterable[str] = (), directives: Mapping[str, str | None] | None = None
) -> str:
    """The policy: :data:`BASE_POLICY`, with ``form_action`` origins added and ``directives`` changed.

    ``form_action``: other origins a form may lead to. Browsers apply ``form-action`` to the redirects that follow
    a submission, so a sign-out posted to the app and answered by a redirect to the identity provider needs it.
    A directive given as None is removed.
    """
    policy: dict[str, str | None] = {**BASE_POLICY, **(directives or {})}
    origins = " ".join(origin for origin in form_action if origin)
    if origins:
        policy["form-action"] = f"{policy.get('form-action') or ''} {origins}".strip()
    return "; ".join(f"{name} {value}" for name, value in policy.items() if value)


def security_headers(*, csp: str, hsts: bool) -> list[tuple[str, str]]:
    """The headers every response carries (answers built outside Flask, such as precomputed documents, add them
    themselves)."""
    found = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if hsts:
        found.append(("Strict-Transport-Security", HSTS))
    return found


def install(app: Flask, *, csp: str, hsts: bool, no_store: Literal["html", "all"] = "html") -> None:
    """Add the security headers to every response of ``app``.

    ``no_store="all"``: no response at all may be cached (the auditors' console, whose JSON names subjects too).
    """
    # Built once: the names lowered for the check, the values as they are sent. A response's own names are read
    # once, and what it lacks appended in one call (about 5 µs a response, where a lookup per header took 20).
    every_response = [(name.lower(), name, value) for name, value in security_headers(csp=csp, hsts=hsts)]
    no_store_all = no_store == "all"

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        missing = [(name, value) for lowered, name, value in every_response if lowered not in present]
        if "cache-control" not in present and (no_store_all or _is_html(headers.get("Content-Type"))):
            missing.append(("Cache-Control", "no-store"))
        headers.extend(missing)
        return response


def _is_html(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is HTML (``response.mimetype``'s answer, without parsing the parameters)."""
    return bool(content_type) and str(content_type).partition(";")[0].strip().lower() == "text/html"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, as a CSP source expression; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
