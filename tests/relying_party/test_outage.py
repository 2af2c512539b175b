"""The portal while its Redis is down, then restarted empty (a Redis of the test's own, on both database back
ends): the French 503 page with ``Retry-After`` for a signed-in voter and for any page that needs the store, within
2 s; the public home page, which needs no store, still answers; after the restart the voter signs in again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from infra.store.redis import RedisStore
from relying_party import create_app
from relying_party.store import get_store
from tests.redis_servers import RedisServer, assert_unavailable_page, redis_server
from tests.relying_party.conftest import close
from tests.relying_party.helpers import sign_in, text_of

__all__ = ["redis_server"]


@pytest.fixture
def app(portal_config: dict[str, Any], redis_server: RedisServer) -> Iterator[Flask]:
    """The portal on the test's database, its store on the test's own Redis."""
    application = create_app({**portal_config, "REDIS_URL": redis_server.url()})
    store = get_store(application)
    assert isinstance(store, RedisStore)
    store.cooldown = 0  # each request really meets the outage
    yield application
    close(application)


def test_a_signed_in_voter_and_a_new_visitor_get_the_503_page(
    app: Flask, client: FlaskClient, redis_server: RedisServer
) -> None:
    sign_in(client, app)
    assert client.get("/mes-scrutins").status_code == 200
    redis_server.stop()

    started = time.monotonic()
    page = client.get("/mes-scrutins")
    assert_unavailable_page(page, started)
    assert "un vote déjà enregistré reste enregistré" in text_of(page)
    visitor = app.test_client()
    assert visitor.get("/").status_code == 200, "the public home page needs no store"
    started = time.monotonic()
    assert_unavailable_page(visitor.get("/connexion"), started)  # the sign-in's state cannot be kept
    assert client.get("/healthz").status_code == 503


def test_after_a_restart_empty_the_voter_signs_in_again(
    app: Flask, client: FlaskClient, redis_server: RedisServer
) -> None:
    sign_in(client, app)
    redis_server.restart_empty()
    again = client.get("/mes-scrutins")
    assert again.status_code == 302 and "/connexion" in again.headers["Location"], "signed out, not an error"
    sign_in(client, app)
    assert client.get("/mes-scrutins").status_code == 200
