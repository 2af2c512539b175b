"""``/healthz``: whether this process can serve (database and ephemeral store answer), for the proxy and operators.

The answer names the failing dependency but never the error itself, which could reveal addresses or account names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from relying_party.db import get_db
from relying_party.store import get_store

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

#: A key nobody writes: reading it proves the store answers without adding load or state.
_PROBE_KEY = "healthz:probe"


def _database() -> None:
    with get_db().engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _store() -> None:
    get_store().get(_PROBE_KEY)


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "store": _store}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not healthy"; only its type is logged
            logger.warning("healthz: %s check failed (%s)", name, type(exc).__name__)
            results[name] = "error"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    response = jsonify(status="ok" if healthy else "unavailable", checks=results)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if healthy else 503
