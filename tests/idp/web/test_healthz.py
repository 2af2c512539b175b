"""``/healthz``, which the reverse proxy and docker-compose use to decide whether a process can serve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from idp import create_app
from idp.db import get_db
from tests import backends

#: Nothing listens on port 1 of the loopback: a real, immediate "connection refused".
REFUSED_REDIS = "redis://127.0.0.1:1/0"
REFUSED_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/absent"


def test_healthz_is_ok_when_database_and_store_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "store": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers, "a probe must not create sessions"


@pytest.fixture
def broken_app(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**app_config, **request.param, "SKIP_SCHEMA_CHECK": True})
    yield application
    get_db(application).dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("broken_app", [{"REDIS_URL": REFUSED_REDIS}], indirect=True)
def test_healthz_is_503_when_the_store_does_not_answer(broken_app):
    response = broken_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {"database": "ok", "store": "error"}}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "broken_app", [{"DATABASE_URL": REFUSED_POSTGRES, "REDIS_URL": backends.REDIS_URL}], indirect=True
)
def test_healthz_is_503_when_the_database_does_not_answer(broken_app):
    if backends.redis_reason():
        backends.unavailable(str(backends.redis_reason()))
    response = broken_app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body == {"status": "unavailable", "checks": {"database": "error", "store": "ok"}}
    assert "127.0.0.1" not in response.get_data(as_text=True), "no connection detail in the answer"
