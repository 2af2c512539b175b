"""``/healthz`` and ``/readyz``: whether this process can serve, for the orchestrator, the operators and the proxy.

A process is healthy when every dependency it needs answers (by default: its database and its ephemeral store).
Either one down means its requests fail. The answer names the failing dependency but never the error itself, which
could reveal addresses or account names.

``/readyz`` is what the reverse proxy's active health check asks (deploy/Caddyfile): « may the proxy send this
replica new requests », 503 only while the replica drains. A replica is drained before it is restarted: the operator
creates its drain file (the app's ``DRAIN_PATH`` setting, in a tmpfs that a restart empties); the proxy takes the
replica out of its rotation at its next check and sends it nothing new, and the replica goes on serving what it
already has. Then it can stop without a request cut (docs/operators/runbook.md, deploy/rolling-restart.sh).
``/readyz`` runs no dependency check: every replica shares the database and the store, so an outage of either
would take every replica out at once, and the voters would get the proxy's own empty 503 instead of the apps'
French page (measured: docs/operators/resilience.md). ``/healthz`` ignores draining: a draining replica is healthy,
and the orchestrator must not restart it for that.
"""

from __future__ import annotations

import logging
import os
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


def draining(app: Flask) -> bool:
    """Whether the operator has asked this replica to drain: its ``DRAIN_PATH`` exists (unset: never)."""
    path = app.config.get("DRAIN_PATH")
    return bool(path) and os.path.exists(str(path))


def install(app: Flask, checks: Mapping[str, Check] | None = None) -> None:
    """Serve ``/healthz`` and ``/readyz`` (blueprint ``health``) running ``checks`` (default: database and store)."""
    chosen = dict(DEFAULT_CHECKS if checks is None else checks)
    bp = Blueprint("health", __name__)

    def answer(results: dict[str, str]) -> tuple[Response, int]:
        healthy = all(result == "ok" for result in results.values())
        response = jsonify(status="ok" if healthy else "unavailable", checks=results)
        response.headers["Cache-Control"] = "no-store"
        return response, 200 if healthy else 503

    def run_checks() -> dict[str, str]:
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
        return results

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return answer(run_checks())

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        return answer({"draining": "error" if draining(current_app) else "ok"})

    app.register_blueprint(bp)
