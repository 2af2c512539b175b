"""The public participation page, « Participation » (no sign-in): turnout per scrutin, as ministries publish it
during the vote, with a chart and its table.

The figures come from the émargement (:mod:`relying_party.turnout`), never from the ballot box. They are counted at
most once every ``PORTAL_PARTICIPATION_REFRESH`` seconds for all the portal's processes: the last count is kept in
the ephemeral store with the instant it was made; a request that finds it older takes a short lock (``add``) and
counts again, while the others keep showing the previous count. The page says when it was counted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from flask import Blueprint, current_app, render_template

from infra.store import get_store
from relying_party import turnout
from relying_party.db import get_db
from relying_party.models import utcnow
from templates import figures as figures_fmt

logger = logging.getLogger(__name__)

bp = Blueprint("participation", __name__)

CACHE_KEY = "participation:by-scrutin"
LOCK_KEY = "participation:counting"
#: How long a kept count may be shown at all (past it, the page counts before answering).
KEEP_FOR = 24 * 3600
LOCK_FOR = 60


def _count(now: dt.datetime) -> dict[str, Any]:
    figures = turnout.by_scrutin(get_db().engine, now)
    get_store().set(CACHE_KEY, json.dumps(figures), KEEP_FOR)
    return figures


def current_figures(now: dt.datetime | None = None) -> dict[str, Any]:
    """The kept count if it is recent enough, else a new one (see the module docstring)."""
    now = now or utcnow()
    store = get_store()
    raw = store.get(CACHE_KEY)
    if raw is None:
        return _count(now)
    figures: dict[str, Any] = json.loads(raw)
    age = (now - dt.datetime.fromisoformat(figures["computed_at"])).total_seconds()
    if age >= int(current_app.config["PARTICIPATION_REFRESH"]) and store.add(LOCK_KEY, "1", LOCK_FOR):
        try:
            figures = _count(now)
        finally:
            store.delete(LOCK_KEY)
    return figures


@bp.get("/participation")
def page() -> str:
    figures = current_figures()
    now = utcnow()
    shown = [s for s in figures["scrutins"] if dt.datetime.fromisoformat(s["opens_at"]) <= now]
    rows = [
        [
            s["label"],
            figures_fmt.nombre(s["registered"]),
            figures_fmt.nombre(s["voted"]),
            figures_fmt.pourcent(s["rate"]),
        ]
        for s in shown
    ]
    # Not cached by the browser or a proxy: a signed-in voter's copy carries the sign-out form's CSRF token.
    return render_template("portal/participation.html", figures=figures, scrutins=shown, rows=rows)
