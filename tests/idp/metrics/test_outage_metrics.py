"""An outage of the store shows in the metrics: requests answered 503 counted by dependency, the health check's
gauge at 0, and a worker's scrape saying its store does not answer (a Redis of the test's own, stopped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import generate_latest

from idp import create_app
from idp import metrics as idp_metrics
from idp.db import get_db
from idp.store import get_store
from infra import metrics
from infra.store.redis import RedisStore
from tests.metrics_helpers import scraped, value
from tests.redis_servers import RedisServer, redis_server

__all__ = ["redis_server"]


@pytest.fixture
def app(app_config: dict[str, Any], redis_server: RedisServer) -> Iterator[Flask]:
    application = create_app({**app_config, "REDIS_URL": redis_server.url()})
    store = get_store(application)
    assert isinstance(store, RedisStore)
    store.cooldown = 0
    yield application
    store.close()
    get_db(application).dispose()


def test_a_store_outage_is_counted_and_seen_by_the_workers_scrape(
    app: Flask, client: FlaskClient, redis_server: RedisServer
) -> None:
    worker = idp_metrics.dependency_collector(app, "idp_delivery")

    def worker_sees(dependency: str) -> float:
        text = generate_latest(metrics.scrape_registry([worker])).decode()
        return scraped(text, "elections_worker_dependency_up", worker="idp_delivery", dependency=dependency)

    assert client.get("/healthz").status_code == 200
    assert value("elections_dependency_up", app="idp", dependency="store") == 1
    assert (worker_sees("store"), worker_sees("database")) == (1, 1)
    errors = value("elections_dependency_errors_total", app="idp", dependency="store")

    redis_server.stop()
    assert client.get("/login").status_code == 503
    assert value("elections_dependency_errors_total", app="idp", dependency="store") == errors + 1
    assert client.get("/healthz").status_code == 503
    assert value("elections_dependency_up", app="idp", dependency="store") == 0
    assert value("elections_dependency_up", app="idp", dependency="database") == 1
    assert (worker_sees("store"), worker_sees("database")) == (0, 1)
