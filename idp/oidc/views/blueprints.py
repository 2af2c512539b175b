"""The provider's two blueprints (see :mod:`idp.oidc.views`)."""

from __future__ import annotations

from flask import Blueprint

protocol_bp = Blueprint("oidc", __name__)
ui_bp = Blueprint("oidc_ui", __name__)
