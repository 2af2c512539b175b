"""Malformed requests get a 4xx answer (a page or an OAuth error), never a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.fc_dev_provider.helpers import CLIENT_A, random_value

REDIRECT = CLIENT_A["redirect_uris"][0]
GRANT = "authorization_code"


def _authorize(**params: str) -> dict[str, Any]:
    base = {
        "response_type": "code",
        "client_id": CLIENT_A["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": random_value(),
        "nonce": random_value(),
        "acr_values": "eidas1",
    }
    return {"method": "GET", "path": "/api/v2/authorize", "query_string": {**base, **params}}


def _basic(value: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}


CASES: list[tuple[str, dict[str, Any], int]] = [
    ("authorize without parameters", {"method": "GET", "path": "/api/v2/authorize"}, 400),
    (
        "authorize redirect_uri with forbidden characters",
        _authorize(redirect_uri='https://service-a.example/"\\é'),
        400,
    ),
    ("authorize response_type with a quote", _authorize(response_type='code"'), 400),
    ("authorize client_id of control characters", _authorize(client_id="\x00\x01"), 400),
    ("authorize state with non-ASCII (redirected)", _authorize(state="é" * 40), 302),
    ("token by GET", {"method": "GET", "path": "/api/v2/token"}, 405),
    ("token without anything", {"method": "POST", "path": "/api/v2/token"}, 400),
    ("token with JSON", {"method": "POST", "path": "/api/v2/token", "json": {"grant_type": GRANT}}, 400),
    (
        "token without code",
        {
            "method": "POST",
            "path": "/api/v2/token",
            "data": {"grant_type": GRANT},
            "headers": _basic(f"{CLIENT_A['client_id']}:{CLIENT_A['client_secret']}"),
        },
        400,
    ),
    (
        "token basic auth not base64",
        {
            "method": "POST",
            "path": "/api/v2/token",
            "data": {"grant_type": "authorization_code", "code": "x"},
            "headers": {"Authorization": "Basic !!!"},
        },
        401,
    ),
    (
        "token basic auth without colon",
        {
            "method": "POST",
            "path": "/api/v2/token",
            "data": {"grant_type": "authorization_code", "code": "x"},
            "headers": _basic("sans-deux-points"),
        },
        401,
    ),
    ("token with a huge body", {"method": "POST", "path": "/api/v2/token", "data": {"code": "x" * 100_000}}, 413),
    (
        "userinfo with a bare Bearer",
        {"method": "GET", "path": "/api/v2/userinfo", "headers": {"Authorization": "Bearer"}},
        401,
    ),
    ("userinfo by PUT", {"method": "PUT", "path": "/api/v2/userinfo"}, 405),
    ("session/end without parameters", {"method": "GET", "path": "/api/v2/session/end"}, 400),
    (
        "session/end with a non-JWT hint",
        {"method": "GET", "path": "/api/v2/session/end", "query_string": {"id_token_hint": "abc", "state": "s" * 40}},
        400,
    ),
    (
        "session/end with a JWT of none algorithm",
        {
            "method": "GET",
            "path": "/api/v2/session/end",
            "query_string": {"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "state": "s" * 40},
        },
        400,
    ),
    ("unknown login request", {"method": "GET", "path": "/interaction/inconnue"}, 400),
    ("overlong login request id", {"method": "GET", "path": "/interaction/" + "x" * 5000}, 400),
    ("login answer without CSRF", {"method": "POST", "path": "/interaction/inconnue"}, 400),
    ("unknown page", {"method": "GET", "path": "/nulle-part"}, 404),
    ("unknown API path", {"method": "GET", "path": "/api/v2/nulle-part"}, 404),
]


@pytest.mark.parametrize(
    ("request_args", "expected"), [(args, status) for _, args, status in CASES], ids=[name for name, _, _ in CASES]
)
def test_malformed_requests_are_refused_cleanly(
    client: FlaskClient, request_args: dict[str, Any], expected: int
) -> None:
    args = dict(request_args)
    response = client.open(args.pop("path"), **args)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
