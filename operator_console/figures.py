"""The figures the pages show, counted at most once every ``REFRESH`` seconds for every process and operator.

Each page's figures are counted by the IdP's and the portal's published reading functions (:mod:`idp.operations`,
:mod:`relying_party.turnout`) through read-only connections, then kept as JSON in the console's own store, with the
instant they were counted; a page shows that instant. Ten operators reloading every few seconds cost one count per
``REFRESH``. The rolls' size per académie, which reads every roll, is kept for ``ROLLS_REFRESH``; the émargement of
the closed hours is counted once and extended hour by hour, so that a refresh reads only the last hour or two.
"""

from __future__ import annotations

import datetime as dt
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
#: The émargement counts of the closed hours (see :func:`_emargement_counts`), kept two days.
BASE_KEY = "figures:turnout-base"
BASE_TTL = 2 * 24 * 3600


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


def _emargement_counts(now: dt.datetime) -> turnout.Counts:
    """Émargements per scrutin, académie and hour up to now, reading only the last hour or two.

    The hours before the previous one are closed: their counts are kept in the store (``figures:turnout-base``,
    with the instant they stop at) and extended once an hour by the hour that just closed; only what follows is
    counted at each refresh, through the index ``(scrutin_id, voted_at)``. The first count (or one after the store
    lost its copy) reads the whole émargement once.
    """
    store = get_store()
    engine = portal_engine()
    cutoff = (int(now.timestamp()) // turnout.HOUR - 1) * turnout.HOUR
    raw = store.get(BASE_KEY)
    kept_base = json.loads(raw) if raw else None
    base: turnout.Counts = {(int(s), str(d), int(h)): int(n) for s, d, h, n in (kept_base or {}).get("counts", [])}
    if kept_base is None or int(kept_base["cutoff"]) < cutoff:
        since = _instant(int(kept_base["cutoff"])) if kept_base else None
        base = turnout.merged(base, turnout.hourly_counts(engine, since=since, until=_instant(cutoff)))
        document = {"cutoff": cutoff, "counts": [[s, d, h, n] for (s, d, h), n in base.items()]}
        store.set(BASE_KEY, json.dumps(document), BASE_TTL)
    return turnout.merged(base, turnout.hourly_counts(engine, since=_instant(cutoff)))


def _instant(unix: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.UTC)


def turnout_figures() -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        now = utcnow()
        rolls = kept("rolls-by-academie", _rolls_by_academie, ttl=int(current_app.config["ROLLS_REFRESH"]))
        registered = {(int(s), str(d)): int(n) for s, d, n in rolls["counts"]}
        counts = _emargement_counts(now)
        scrutin_list = turnout.scrutins(portal_engine())
        return {
            "computed_at": now.isoformat(timespec="seconds"),
            "history": {"scrutins": turnout.history(scrutin_list, counts, turnout.per_scrutin(registered), now)},
            "academies": {"scrutins": turnout.academies(scrutin_list, counts, registered)},
            # Per scrutin, académie and hour, for the hour-by-hour chart of one académie.
            "counts": [[s, d, h, n] for (s, d, h), n in counts.items()],
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
