"""``/healthz``: the process answers and its store (memory or Redis) answers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from fc_dev_provider.provider import get_provider

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        get_provider().store.ping()
    except Exception as exc:  # any failure of the store means logins cannot complete
        logger.warning("healthz: store check failed (%s)", type(exc).__name__)
        status = "error"
    else:
        status = "ok"
    response = jsonify(status="ok" if status == "ok" else "unavailable", checks={"store": status})
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if status == "ok" else 503
