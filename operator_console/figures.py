"""The figures the pages show, counted at most once every ``REFRESH`` seconds for every process and operator.

Each page's figures are counted by the IdP's and the portal's published reading functions (:mod:`idp.operations`,
:mod:`relying_party.turnout`) through read-only connections, then kept as JSON in the console's own store, with the
instant they were counted; a page shows that instant. Ten operators reloading every few seconds cost one count per
``REFRESH``. The rolls' size per académie, which reads every roll, is kept for ``ROLLS_REFRESH``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from idp import operations
from infra.db import get_db, read_only_engine
from infra.sqltypes import utcnow
from infra.store import get_store
from relying_party import turnout

PORTAL_ENGINE = "operator_console.portal_engine"


def init_app(app: Flask) -> None:
    """Open the portal's database read only (the IdP's is the app's :class:`infra.db.Database`)."""
    url = str(app.config["PORTAL_DATABASE_URL"])
    app.extensions[PORTAL_ENGINE] = read_only_engine(url, setting="OPERATOR_CONSOLE_PORTAL_DATABASE_URL")


def portal_engine(app: Flask | None = None) -> Engine:
    engine: Engine = (app or current_app).extensions[PORTAL_ENGINE]
    return engine


def idp_engine() -> Engine:
    return get_db().engine


def kept(name: str, compute: Callable[[], dict[str, Any]], *, ttl: int | None = None) -> dict[str, Any]:
    """The figures called ``name`` as last counted, or counted now if the kept copy is gone."""
    store = get_store()
    key = f"figures:{name}"
    raw = store.get(key)
    if raw is not None:
        kept_figures: dict[str, Any] = json.loads(raw)
        return kept_figures
    figures = compute()
    store.set(key, json.dumps(figures), ttl or int(current_app.config["REFRESH"]))
    return figures


def _rolls_by_academie() -> dict[str, Any]:
    counts = turnout.registered_by_academie(portal_engine())
    return {"counts": [[scrutin, domain, n] for (scrutin, domain), n in counts.items()]}


def turnout_figures() -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        now = utcnow()
        rolls = kept("rolls-by-academie", _rolls_by_academie, ttl=int(current_app.config["ROLLS_REFRESH"]))
        registered = {(int(s), str(d)): int(n) for s, d, n in rolls["counts"]}
        engine = portal_engine()
        return {
            "computed_at": now.isoformat(timespec="seconds"),
            "history": turnout.over_time(engine, now, registered=turnout.per_scrutin(registered)),
            "academies": turnout.by_academie(engine, now, registered),
        }

    return kept("turnout", compute)


def sign_in_figures() -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        now = utcnow()
        engine = idp_engine()
        return {
            "computed_at": now.isoformat(timespec="seconds"),
            "sign_ins": operations.sign_ins(engine, now),
            "lockouts": operations.lockouts(engine, now),
        }

    return kept("sign-ins", compute)


def reassort_figures() -> dict[str, Any]:
    return kept("reassort", lambda: operations.reassort_funnel(idp_engine(), utcnow()))


def delivery_figures() -> dict[str, Any]:
    return kept("delivery", lambda: operations.delivery(idp_engine(), utcnow()))
