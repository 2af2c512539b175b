"""Endpoints called by clients: token, userinfo, introspection, revocation (JSON, never an HTML page).

Those that write commit once Authlib has built the response, and roll back a refusal (:mod:`idp.oidc.boundary`);
userinfo writes nothing.
"""

from __future__ import annotations

from typing import Any

from idp.oidc.boundary import one_transaction
from idp.oidc.errors import json_endpoint
from idp.oidc.provider import get_provider
from idp.oidc.views.blueprints import protocol_bp


@protocol_bp.post("/token")
@json_endpoint
def token() -> Any:
    return one_transaction(get_provider().server.create_token_response)


@protocol_bp.route("/userinfo", methods=["GET", "POST"])
@json_endpoint
def userinfo() -> Any:
    return get_provider().server.create_endpoint_response("userinfo")


@protocol_bp.post("/introspect")
@json_endpoint
def introspect() -> Any:
    return one_transaction(lambda: get_provider().server.create_endpoint_response("introspection"))


@protocol_bp.post("/revoke")
@json_endpoint
def revoke() -> Any:
    return one_transaction(lambda: get_provider().server.create_endpoint_response("revocation"))
