"""``/register``: RFC 7591 dynamic client registration (JSON in, JSON out)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import request

from idp.oidc.boundary import one_transaction
from idp.oidc.errors import json_endpoint
from idp.oidc.provider import get_provider
from idp.oidc.views.blueprints import protocol_bp


@protocol_bp.post("/register")
@json_endpoint
def register() -> Any:
    # Checked here so that a body that is not a JSON object gets an OAuth error, not Werkzeug's HTML page.
    if not isinstance(request.get_json(silent=True), dict):
        raise InvalidRequestError("The body must be a JSON object of client metadata.")
    return one_transaction(lambda: get_provider().server.create_endpoint_response("client_registration"))
