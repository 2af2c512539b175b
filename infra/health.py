"""``/healthz``: whether this process can serve, for the reverse proxy, the orchestrator and the operators.

A process is healthy when every dependency it needs answers (by default: its database and its ephemeral store).
Either one down means its requests fail, so the proxy should stop sending traffic here. The answer names the
failing dependency but never the error itself, which could reveal addresses or account names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text

from infra import metrics
from infra.db import get_db
from infra.store import get_store

logger = logging.getLogger(__name__)

#: A check raises when its dependency does not answer.
Check = Callable[[Flask], None]

#: A key nobody writes: reading it proves the store answers without adding load or state.
PROBE_KEY = "healthz:probe"


def database(app: Flask) -> None:
    """The app's database (:mod:`infra.db`) answers a trivial query."""
    with get_db(app).engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def store(app: Flask) -> None:
    """The app's ephemeral store (:mod:`infra.store`) answers a read."""
    get_store(app).get(PROBE_KEY)


DEFAULT_CHECKS: dict[str, Check] = {"database": database, "store": store}


def install(app: Flask, checks: Mapping[str, Check] | None = None) -> None:
    """Serve ``/healthz`` (blueprint ``health``) running ``checks`` (default: database and store)."""
    chosen = dict(DEFAULT_CHECKS if checks is None else checks)
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        for name, check in chosen.items():
            try:
                check(current_app)
            except Exception as exc:  # any failure means "not healthy"; only its type is logged
                logger.warning("healthz: %s check failed (%s)", name, type(exc).__name__)
                results[name] = "error"
            else:
                results[name] = "ok"
            metrics.DEPENDENCY_UP.labels(metrics.app_label(), name).set(1 if results[name] == "ok" else 0)
        healthy = all(result == "ok" for result in results.values())
        response = jsonify(status="ok" if healthy else "unavailable", checks=results)
        response.headers["Cache-Control"] = "no-store"
        return response, 200 if healthy else 503

    app.register_blueprint(bp)
