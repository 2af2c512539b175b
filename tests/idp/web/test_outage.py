"""The IdP while its Redis is down, then restarted empty (a Redis of the test's own, on both database back ends):
the French 503 page with ``Retry-After`` on every screen that needs the store, signed in or not, within 2 s; the
protocol's JSON endpoints that do not need the store keep answering; after the restart voters sign in again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from idp.db import get_db
from idp.store import get_store
from infra.store.redis import RedisStore
from tests.helpers import AuthActions, VoterFactory
from tests.redis_servers import RedisServer, assert_unavailable_page, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def app(app_config: dict[str, Any], redis_server: RedisServer) -> Iterator[Flask]:
    """The IdP on the test's database, its store on the test's own Redis."""
    application = create_app({**app_config, "REDIS_URL": redis_server.url()})
    store = get_store(application)
    assert isinstance(store, RedisStore)
    store.cooldown = 0  # each request really meets the outage
    yield application
    store.close()
    get_db(application).dispose()


def test_every_screen_that_needs_the_store_answers_the_503_page_signed_in_or_not(
    app: Flask, client: FlaskClient, voters: VoterFactory, auth: AuthActions, redis_server: RedisServer
) -> None:
    voter = voters.create()
    assert auth.submit_identifier(voter.identifier).status_code == 302  # mid-journey: identifier given
    redis_server.stop()

    started = time.monotonic()
    assert_unavailable_page(client.get("/login/password"), started)
    started = time.monotonic()
    assert_unavailable_page(app.test_client().get("/login"), started)  # a new visitor: the CAPTCHA needs the store
    started = time.monotonic()
    assert_unavailable_page(client.get("/captcha/some-challenge.png"), started)  # served without the session
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["checks"]["store"] == "error"
    # Discovery and the keys need no store: programs (no session cookie) keep their configuration.
    program = app.test_client()
    assert program.get("/.well-known/openid-configuration").status_code == 200
    assert program.get("/jwks.json").status_code == 200


def test_after_a_restart_empty_the_voter_signs_in_again(
    client: FlaskClient, voters: VoterFactory, auth: AuthActions, redis_server: RedisServer
) -> None:
    voter = voters.create()
    assert auth.submit_identifier(voter.identifier).status_code == 302
    redis_server.restart_empty()
    # The sign-in transaction went with the store: back to the identifier step, not an error.
    restart = client.get("/login/password")
    assert restart.status_code == 302 and restart.headers["Location"].startswith("/login")
    assert auth.login(voter.identifier).status_code == 302
    assert "Vous êtes connecté(e)" in client.get("/").get_data(as_text=True)
