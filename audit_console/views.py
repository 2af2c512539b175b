"""The pages of the "Journal d'audit": events, tokens, and "Vérifier maintenant".

Every query goes through the read-only engine (:func:`infra.db.read_only_engine`) and :mod:`idp.audit`'s reading
functions. The one POST re-runs the verification and keeps its result in the console's own store; it writes nothing
to the IdP's database (it could not: the connection is read-only).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from audit_console import verification
from audit_console.access import auditor_required, current_auditor
from audit_console.filters import Filters, parse
from idp.audit.query import EventFilter, page_of_events
from idp.audit.vocabulary import EVENT_TYPES
from idp.auditors.tokenview import TOKEN_EVENT_TYPES, TokenFilter, page_of_token_events
from infra.db import get_db
from infra.redirects import safe_local_path

bp = Blueprint("journal", __name__)


def _page_size() -> int:
    return int(current_app.config["PAGE_SIZE"])


def _render(template: str, filters: Filters, **context: Any) -> tuple[str, int]:
    status = 400 if filters.problems else 200
    return render_template(
        template,
        filters=filters,
        auditor=current_auditor(),
        result=verification.last_result(),
        event_types=sorted(EVENT_TYPES),
        **context,
    ), status


@bp.get("/")
def home() -> Response | str:
    if current_auditor() is not None:
        return redirect(url_for("journal.events"))
    return render_template("audit_console/home.html")


@bp.get("/journal")
@auditor_required
def events() -> tuple[str, int]:
    filters = parse(request.args)
    page = None
    if not filters.problems:
        subjects = (filters.subject,) if filters.subject else ()
        page = page_of_events(
            get_db().engine,
            EventFilter(
                since=filters.since,
                until=filters.until,
                types=filters.types,
                client_id=filters.client_id,
                subjects=subjects,
            ),
            after=filters.after,
            size=_page_size(),
        )
    return _render("audit_console/journal.html", filters, page=page, details=_details)


@bp.get("/jetons")
@auditor_required
def tokens() -> tuple[str, int]:
    filters = parse(request.args, with_jti=True)
    page = None
    if not filters.problems:
        page = page_of_token_events(
            get_db().engine,
            TokenFilter(
                since=filters.since,
                until=filters.until,
                types=filters.types,
                client_id=filters.client_id,
                subject=filters.subject,
                jti=filters.jti,
            ),
            after=filters.after,
            size=_page_size(),
        )
    return _render("audit_console/tokens.html", filters, page=page, token_event_types=TOKEN_EVENT_TYPES)


@bp.post("/verification")
@auditor_required
def verify_now() -> Response:
    result = verification.run(
        get_db().engine,
        public_key_pem=current_app.config.get("SEAL_PUBLIC_KEY"),
        issuer=str(current_app.config["IDP_ISSUER"]).rstrip("/"),
    )
    verification.keep(result)
    return redirect(safe_local_path(request.form.get("next")) or url_for("journal.events"), code=303)


def _details(data: str) -> list[tuple[str, str]]:
    """An event's data as (key, value) pairs to show; values that are not text are shown as JSON."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return [("données", data)]
    if not isinstance(parsed, dict):
        return [("données", data)]
    return [
        (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in parsed.items()
    ]
