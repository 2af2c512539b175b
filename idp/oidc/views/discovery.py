"""``/.well-known/openid-configuration`` and ``/jwks.json``, cacheable, revalidated by ``ETag``, readable from any
origin. The documents and their headers are built by :mod:`idp.oidc.published`, whose middleware answers most
requests before they reach Flask; these views answer the others (a JWKS whose keys must be read again)."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from idp.db import get_session
from idp.oidc.provider import get_provider
from idp.oidc.published import DISCOVERY_PATH, JWKS_PATH, Document
from idp.oidc.views.blueprints import protocol_bp


def _answer(document: Document) -> Response:
    status, headers, body = document.answer(request.headers.get("If-None-Match"))
    return Response(body, status=status, headers=list(headers))


@protocol_bp.get(DISCOVERY_PATH)
def openid_configuration() -> Response:
    return _answer(get_provider().documents.discovery())


@protocol_bp.get(JWKS_PATH)
def jwks() -> Response:
    return _answer(get_provider().documents.jwks(get_session()))
