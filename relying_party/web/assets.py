"""The portal's own static files (countdown script, a few styles), next to its templates."""

from __future__ import annotations

from flask import Blueprint

from templates import TEMPLATE_DIR

bp = Blueprint(
    "portal_assets", __name__, static_folder=str(TEMPLATE_DIR / "portal" / "static"), static_url_path="/assets/portal"
)
