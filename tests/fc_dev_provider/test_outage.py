"""The development FranceConnect provider while its Redis is down: the French 503 page for a browser (the
authorization endpoint), JSON ``temporarily_unavailable`` for a program (the token endpoint), both with
``Retry-After`` and within 2 s; after a restart it serves again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from fc_dev_provider import create_app
from infra.store.redis import RedisStore
from tests.fc_dev_provider.conftest import get_provider_of
from tests.fc_dev_provider.helpers import API, FcActions
from tests.redis_servers import RedisServer, assert_unavailable_page, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def app(fc_config: dict[str, Any], redis_server: RedisServer) -> Iterator[Flask]:
    application = create_app({**fc_config, "REDIS_URL": redis_server.url(), "REDIS_PREFIX": "fcdev:"})
    store = get_provider_of(application).store.raw
    assert isinstance(store, RedisStore)
    store.cooldown = 0
    yield application
    store.close()


@pytest.mark.parametrize("store_config", ["memory"], indirect=True)  # the Redis is the test's own
def test_browsers_get_the_french_page_and_programs_json_then_it_serves_again(
    app: Flask, fc: FcActions, redis_server: RedisServer
) -> None:
    redis_server.stop()
    started = time.monotonic()
    assert_unavailable_page(fc.authorize(), started)
    started = time.monotonic()
    token = app.test_client().post(f"{API}/token", data={"grant_type": "authorization_code", "code": "x"})
    assert time.monotonic() - started < 2
    assert token.status_code == 503
    assert token.get_json()["error"] == "temporarily_unavailable"
    assert token.headers["Retry-After"] == "10"
    redis_server.start()
    _, page = fc.login_page()
    assert page.status_code == 200
