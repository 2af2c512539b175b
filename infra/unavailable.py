"""A dependency down (the ephemeral store, the database): recognise it, and answer « service momentanément
indisponible » in French, with ``503`` and ``Retry-After``, fast.

An outage is not a bug: the voter is told to come back in a moment (and, signed in or not, never sees a stack trace
or a server's raw page), the proxy and the browser are told when (``Retry-After``), and nothing is logged as a
traceback. The page neither reads nor writes the store or the session: once a request has met an outage
(:func:`mark`), its session is not saved either, so the answer costs no further wait on a server that is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, render_template
from markupsafe import escape

from infra import db, metrics
from infra.store.interface import StoreUnavailable

logger = logging.getLogger(__name__)

#: Seconds after which the browser, the proxy and the voter may try again.
RETRY_AFTER = 10
TITLE = "Service momentanément indisponible"
MESSAGE = "Le service est momentanément indisponible. Réessayez dans quelques instants."
#: The shared template: it extends ``base.html`` and reads neither the session nor the store.
TEMPLATE = "unavailable.html"
EXTENSION_KEY = "infra.unavailable"
_G_MARK = "_infra_unavailable"

#: Renders the 503 page's HTML (in a request of the app).
Renderer = Callable[[], str]


def is_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it was raised from) is an outage of the store or the database."""
    return dependency_of(error) is not None


def dependency_of(error: BaseException | None) -> str | None:
    """``store`` or ``database`` when ``error`` (or what it was raised from) is an outage of it, else None."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, StoreUnavailable):
            return "store"
        if db.is_unavailable(error):
            return "database"
        error = error.__cause__ or getattr(error, "original_exception", None)
        seen += 1
    return None


def mark() -> None:
    """This request met an outage: its session is neither read nor written again (:mod:`infra.sessions`)."""
    if has_request_context():
        setattr(g, _G_MARK, True)


def marked() -> bool:
    return has_request_context() and bool(g.get(_G_MARK))


def install(app: Flask, *, title: str = TITLE, message: str = MESSAGE, template: str = TEMPLATE) -> None:
    """The 503 page of ``app`` (:func:`response` renders it)."""

    def render() -> str:
        return render_template(template, title=title, message=message)

    app.extensions[EXTENSION_KEY] = render


def response(error: BaseException | None = None) -> Response:
    """The app's 503 page, ``Retry-After`` and ``no-store``; the request is :func:`mark`-ed.

    Logged as one warning line with the error's type only (its text may carry an address or a key).
    """
    mark()
    if error is not None:
        logger.warning("dependency unavailable (%s): answered 503", type(error).__name__)
        metrics.record_dependency_error(dependency_of(error) or metrics.OTHER)
    render: Renderer | None = current_app.extensions.get(EXTENSION_KEY) if has_app_context() else None
    try:
        html = render() if render is not None else _plain()
    except Exception:  # the page must answer even if its template fails: plain French text then
        logger.exception("the unavailable page could not be rendered")
        html = _plain()
    answer = Response(html, status=503, mimetype="text/html")
    answer.headers["Retry-After"] = str(RETRY_AFTER)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _plain() -> str:
    return f'<!doctype html><html lang="fr"><title>{escape(TITLE)}</title><h1>{escape(TITLE)}</h1><p>{escape(MESSAGE)}'


def replace(target: Response, error: BaseException | None = None) -> None:
    """Turn ``target``, a response already made, into the 503 page (when saving the session fails after the view
    has answered): the view's answer (a redirect, a page) depended on state that could not be kept."""
    page = response(error)
    target.direct_passthrough = False
    target.set_data(page.get_data())
    target.status_code = 503
    for name in ("Location", "Content-Disposition", "ETag", "Last-Modified", "Set-Cookie"):
        target.headers.remove(name)
    for name, value in page.headers.items():
        if name.lower() != "content-length":
            target.headers[name] = value
