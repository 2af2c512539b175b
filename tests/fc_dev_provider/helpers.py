"""Driving the development provider over HTTP like a relying party would, with Flask's test client."""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

ISSUER = "http://localhost/api/v2"
API = "/api/v2"

CLIENT_A: dict[str, Any] = {
    "client_id": "service-a",
    "client_name": "Service A",
    "client_secret": "secret-du-service-a-0123456789",
    "redirect_uris": ["https://service-a.example/callback"],
    "post_logout_redirect_uris": ["https://service-a.example/logged-out"],
    "sector": "secteur-a.example",
}
#: Another client of sector A: same pairwise subjects as CLIENT_A.
CLIENT_A2: dict[str, Any] = {
    "client_id": "service-a2",
    "client_secret": "secret-du-service-a2-0123456789",
    "redirect_uris": ["https://service-a2.example/callback"],
    "post_logout_redirect_uris": [],
    "sector": "secteur-a.example",
}
CLIENT_B: dict[str, Any] = {
    "client_id": "service-b",
    "client_secret": "secret-du-service-b-0123456789",
    "redirect_uris": ["https://service-b.example/callback"],
    "post_logout_redirect_uris": ["https://service-b.example/logged-out"],
    "sector": "secteur-b.example",
}
CLIENTS = [CLIENT_A, CLIENT_A2, CLIENT_B]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def random_value(length: int = 43) -> str:
    return secrets.token_urlsafe(length)[:length]


def query_of(response: TestResponse) -> dict[str, str]:
    """The parameters of the redirect a response carries (a single value each)."""
    location = response.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def csrf_of(response: TestResponse) -> str:
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Tokens:
    token_response: dict[str, Any]
    id_token: dict[str, Any]
    id_token_header: dict[str, Any]
    state: str
    nonce: str
    client: dict[str, Any] = field(default_factory=dict)

    @property
    def access_token(self) -> str:
        return str(self.token_response["access_token"])

    @property
    def raw_id_token(self) -> str:
        return str(self.token_response["id_token"])


class FcActions:
    """The steps of the authorization code flow, each returning what a relying party would see."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def authorization_params(self, rp: dict[str, Any] = CLIENT_A, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "response_type": "code",
            "client_id": rp["client_id"],
            "redirect_uri": rp["redirect_uris"][0],
            "scope": "openid identite_pivot email",
            "state": random_value(),
            "nonce": random_value(),
            "acr_values": "eidas1",
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}

    def authorize(self, rp: dict[str, Any] = CLIENT_A, **overrides: Any) -> TestResponse:
        return self.client.get(f"{API}/authorize", query_string=self.authorization_params(rp, **overrides))

    def login_page(self, rp: dict[str, Any] = CLIENT_A, **overrides: Any) -> tuple[str, TestResponse]:
        response = self.authorize(rp, **overrides)
        assert response.status_code == 302, response.get_data(as_text=True)
        location = response.headers["Location"]
        assert location.startswith("/interaction/")
        return location, self.client.get(location)

    def answer(self, page_url: str, page: TestResponse, **form: str) -> TestResponse:
        return self.client.post(page_url, data={"csrf_token": csrf_of(page), **form})

    def login(
        self, citizen: str = "claire-jullien", scenario: str = "", rp: dict[str, Any] = CLIENT_A, **overrides: Any
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Authorize, pick ``citizen``: the callback's parameters and the authorization request's."""
        params = self.authorization_params(rp, **overrides)
        page_url, page = self.login_page(rp, **params)
        response = self.answer(page_url, page, citizen=citizen, scenario=scenario)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(params["redirect_uri"] + "?")
        return query_of(response), params

    def token(
        self,
        code: str,
        rp: dict[str, Any] = CLIENT_A,
        method: str = "basic",
        secret: str | None = None,
        redirect_uri: str | None = None,
    ) -> TestResponse:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or rp["redirect_uris"][0],
        }
        secret = rp["client_secret"] if secret is None else secret
        if method == "basic":
            return self.client.post(f"{API}/token", data=form, auth=(rp["client_id"], secret))
        form.update(client_id=rp["client_id"], client_secret=secret)
        return self.client.post(f"{API}/token", data=form)

    def userinfo(self, access_token: str, method: str = "GET") -> TestResponse:
        headers = {"Authorization": f"Bearer {access_token}"}
        return self.client.open(f"{API}/userinfo", method=method, headers=headers)

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(self.client.get(f"{API}/jwks").get_json())

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of a JWT verified (ES256) against the published JWKS."""
        decoded = jwt.decode(token, self.jwks(), algorithms=["ES256"])
        return dict(decoded.header), dict(decoded.claims)

    def tokens(
        self,
        citizen: str = "claire-jullien",
        scenario: str = "",
        rp: dict[str, Any] = CLIENT_A,
        method: str = "basic",
        **overrides: Any,
    ) -> Tokens:
        callback, params = self.login(citizen, scenario, rp, **overrides)
        response = self.token(callback["code"], rp, method)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        header, claims = self.verify(body["id_token"])
        return Tokens(body, claims, header, params["state"], params["nonce"], rp)

    def userinfo_claims(self, access_token: str) -> dict[str, Any]:
        response = self.userinfo(access_token)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/jwt"
        return self.verify(response.get_data(as_text=True))[1]


class FakeClock:
    """The provider's clock in tests: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def redis_or_skip() -> redis.Redis:
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.RedisError as exc:
        reason = f"Redis unavailable at {REDIS_URL} ({type(exc).__name__})"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: a missing service is a failure)", pytrace=False)
        pytest.skip(reason)
    return connection
