"""French error pages: whoever reaches an app sees a page in French, never a stack trace.

Every HTTP error gets the app's error template with a title and a message (:data:`MESSAGES`, which an app may
complete or reword); an unexpected exception is logged with its traceback and answered as a 500 page; a form whose
CSRF token is missing or stale gets its own page (or whatever the app does instead, say, send back to sign-in).
An outage of the store or the database is not a bug: it gets the 503 page of :mod:`infra.unavailable`, which
touches neither the session nor the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from infra import unavailable

logger = logging.getLogger(__name__)

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Requête invalide", "La demande n'a pas pu être traitée. Revenez à la page précédente et réessayez."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "La page demandée n'existe pas ou n'existe plus."),
    405: ("Action non permise", "Cette action n'est pas permise sur cette page."),
    413: ("Demande trop volumineuse", "Les informations envoyées sont trop volumineuses."),
    429: ("Trop de demandes", "Trop de demandes ont été faites. Patientez quelques minutes puis réessayez."),
    500: ("Erreur technique", "Une erreur technique est survenue. Réessayez dans quelques instants."),
    503: (unavailable.TITLE, unavailable.MESSAGE),
}

#: The page of a form whose CSRF token is missing or stale.
EXPIRED_FORM = ("Page expirée", "Cette page a expiré ou a été ouverte dans un autre onglet. Recommencez.")


def install(
    app: Flask,
    *,
    template: str,
    messages: Mapping[int, tuple[str, str]] | None = None,
    templates: Mapping[int, str] | None = None,
    expired_form: tuple[str, str] | Callable[[CSRFError], ResponseReturnValue] = EXPIRED_FORM,
) -> None:
    """Answer every error of ``app`` with ``template`` (context: ``title``, ``message``).

    ``messages`` adds to or replaces :data:`MESSAGES`; ``templates`` gives another template for some statuses;
    ``expired_form`` is the title and message of the expired-form page, or a handler of its own. The 503 page
    (an outage) always uses :data:`infra.unavailable.TEMPLATE`, with the 503 title and message of ``messages``.
    """
    table = {**MESSAGES, **(messages or {})}
    special = dict(templates or {})
    unavailable.install(app, title=table[503][0], message=table[503][1])

    def page(code: int, title: str, message: str) -> tuple[str, int]:
        return render_template(special.get(code, template), title=title, message=message), code

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> ResponseReturnValue:
        if callable(expired_form):
            return expired_form(error)
        return page(400, *expired_form)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        if code == 503:
            return unavailable.response()
        if code == 500 and unavailable.is_unavailable(getattr(error, "original_exception", None)):
            # Raised outside a view (saving the session, say), so Flask wrapped it in a 500.
            return unavailable.response(getattr(error, "original_exception", None))
        return page(code, *table.get(code, table[400 if code < 500 else 500]))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        if unavailable.is_unavailable(error):
            return unavailable.response(error)
        logger.exception("unhandled error", exc_info=error)
        return page(InternalServerError.code, *table[500])
