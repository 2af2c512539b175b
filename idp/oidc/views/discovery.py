"""``/.well-known/openid-configuration`` and ``/jwks.json``, cacheable and readable from any origin."""

from __future__ import annotations

from flask import jsonify
from werkzeug.wrappers import Response

from idp.db import get_session
from idp.oidc.discovery import metadata
from idp.oidc.provider import get_provider
from idp.oidc.views.blueprints import protocol_bp

#: The metadata changes only with a new release or configuration.
DISCOVERY_MAX_AGE = 3600


def _public(response: Response, max_age: int) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@protocol_bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return _public(jsonify(metadata(get_provider())), DISCOVERY_MAX_AGE)


@protocol_bp.get("/jwks.json")
def jwks() -> Response:
    provider = get_provider()
    response = jsonify(provider.keys.public_jwks(get_session()))
    response.mimetype = "application/jwk-set+json"
    # Shorter than the activation delay of a new key: every client sees it before it signs anything.
    return _public(response, provider.keys.jwks_max_age)
