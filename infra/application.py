"""The Flask application object as every app of the suite starts it: its settings, cookies, size limit and proxies.

Cookies are ``HttpOnly``, ``SameSite=Lax`` (an identity provider's redirect back to a client is a cross-site
navigation that must carry the session holding ``state``, ``nonce`` and the PKCE verifier) and ``Secure`` outside
development. CSRF tokens live as long as the server-side session that holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from infra import form_widgets, links, logs, metrics, observability, templating
from infra.proxy import trust_proxies


def is_production(settings: Mapping[str, Any]) -> bool:
    """Whether the app runs for real (``ENV=production``): ``Secure`` cookies and HSTS. Development and testing run
    on plain http."""
    return settings.get("ENV") == "production"


def new_app(
    import_name: str,
    settings: Mapping[str, Any],
    *,
    max_content_length: int,
    secure_cookies: bool | None = None,
    name: str | None = None,
    **flask_kwargs: Any,
) -> Flask:
    """A Flask app configured with ``settings`` (``SESSION_COOKIE_NAME`` and ``TRUSTED_PROXIES`` among them), its
    requests observed (:mod:`infra.observability`: request id, metrics, log line) under the ``app`` label ``name``
    (default: the top package of ``import_name``), its templates' links kept once built (:mod:`infra.links`) and
    their calls and imports made without Jinja's checks where those find nothing (:mod:`infra.templating`).

    ``secure_cookies`` defaults to :func:`is_production`.
    """
    if secure_cookies is None:
        secure_cookies = is_production(settings)
    app = Flask(import_name, **flask_kwargs)
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_NAME=settings["SESSION_COOKIE_NAME"],
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        MAX_CONTENT_LENGTH=max_content_length,
    )
    trust_proxies(app, int(settings.get("TRUSTED_PROXIES") or 0))
    # JSON lines on standard error unless the process set up its logging already (a test, gunicorn's configuration):
    # granian leaves Python's root logger without a handler, and the request lines would go nowhere.
    logs.configure()
    observability.install(app, name or import_name.split(".", 1)[0])
    metrics.serve_from_app(app)
    links.install(app)
    templating.install(app)
    form_widgets.install()
    return app
