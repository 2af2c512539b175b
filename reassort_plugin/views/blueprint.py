"""The plugin's blueprint (``/reassort/…``), with its own static files under ``templates/reassort/static``."""

from __future__ import annotations

from flask import Blueprint

from reassort_plugin.navigation import remember_vote_code_destination
from templates import TEMPLATE_DIR

bp = Blueprint(
    "reassort",
    __name__,
    url_prefix="/reassort",
    static_folder=str(TEMPLATE_DIR / "reassort" / "static"),
    static_url_path="/static",
)
bp.before_app_request(remember_vote_code_destination)
