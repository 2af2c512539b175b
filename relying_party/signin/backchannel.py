"""OpenID Connect Back-Channel Logout 1.0: the IdP tells the portal that a voter's IdP session ended.

The logout token is a JWT signed by the IdP (JWKS from discovery), for this client (``aud``), with a fresh ``iat``,
a ``jti`` (replays refused through the ephemeral store), the back-channel logout event, a ``sid`` or a ``sub``, and
no ``nonce`` (so an ID token cannot be passed off as a logout token). Every portal session tagged with that ``sid``
(or, without one, that ``sub``) is deleted from the store: the voter's next request is signed out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import requests
from flask import Blueprint, Response, current_app, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError

from infra.oidc_client import IssuerMismatch, get_client, issuer, metadata
from relying_party.store import get_store

logger = logging.getLogger(__name__)

bp = Blueprint("backchannel", __name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: A logout token older than this is refused; its ``jti`` is remembered at least that long.
MAX_TOKEN_AGE = 300
LEEWAY = 30


class InvalidLogoutToken(ValueError):
    pass


def _decode(token: str) -> dict[str, Any]:
    client = get_client()
    algorithms = [
        alg for alg in metadata().get("id_token_signing_alg_values_supported", ["ES256", "RS256"]) if alg != "none"
    ]
    return dict(client.decode_jwt(token, algorithms=algorithms).claims)


def validate_logout_token(token: str) -> dict[str, Any]:
    """The token's claims if it is a valid logout token for this portal (Back-Channel Logout 1.0, 2.6)."""
    try:
        claims = _decode(token)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": issuer()},
            aud={"essential": True, "value": str(current_app.config["CLIENT_ID"])},
            iat={"essential": True},
            jti={"essential": True},
        )
        registry.validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidLogoutToken(type(exc).__name__) from None
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise InvalidLogoutToken("events")
    if "nonce" in claims:
        raise InvalidLogoutToken("nonce")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise InvalidLogoutToken("sid/sub")
    if claims["iat"] < time.time() - MAX_TOKEN_AGE:
        raise InvalidLogoutToken("iat")
    return claims


def _error(description: str) -> tuple[Response, int]:
    response = jsonify(error="invalid_request", error_description=description)
    response.headers["Cache-Control"] = "no-store"
    return response, 400


@bp.post("/backchannel-logout")
def backchannel_logout() -> tuple[Response, int]:
    token = request.form.get("logout_token")
    if not token:
        return _error("logout_token is required")
    try:
        claims = validate_logout_token(token)
    except InvalidLogoutToken as exc:
        logger.warning("logout token refused (%s)", exc)
        return _error("invalid logout token")
    except (requests.RequestException, IssuerMismatch, RuntimeError) as exc:
        logger.warning("cannot check a logout token: provider unreachable (%s)", type(exc).__name__)
        response = jsonify(error="temporarily_unavailable")
        response.headers["Cache-Control"] = "no-store"
        return response, 503
    store = get_store()
    replay_key = "bcl-jti:" + hashlib.sha256(f"{claims['iss']}|{claims['jti']}".encode()).hexdigest()
    if not store.add(replay_key, "1", MAX_TOKEN_AGE + 2 * LEEWAY):
        return _error("logout token already used")
    ended = store.delete_tagged(sid=claims.get("sid"), sub=None if claims.get("sid") else claims.get("sub"))
    logger.info("back-channel logout ended %d portal session(s)", ended)
    response = jsonify({})
    response.headers["Cache-Control"] = "no-store"
    return response, 200
