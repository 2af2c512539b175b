"""Fixtures of the portal tests. ``app`` is the portal here (pytest-flask's ``client`` follows), parametrised over
SQLite + SQL store and PostgreSQL + Redis like the rest of the suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from relying_party import create_app
from relying_party.db import get_db
from relying_party.store import get_store
from tests import backends as suite_backends
from tests.relying_party import backends

PORTAL_BACKENDS = ["sqlite", "postgresql"]

#: The IdP address of page tests: never contacted (those tests put the signed-in state in the session).
UNUSED_ISSUER = "http://127.0.0.1:9"


def close(application: Flask) -> None:
    get_store(application).close()
    get_db(application).dispose()


@pytest.fixture(scope="session")
def portal_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> backends.SQLiteTemplate:
    return backends.SQLiteTemplate(tmp_path_factory.mktemp("portal-sqlite-template"))


@pytest.fixture(scope="session")
def portal_postgres() -> Iterator[backends.PostgresDatabase | str]:
    db = backends.postgres_or_reason()
    yield db
    if isinstance(db, backends.PostgresDatabase):
        db.drop()


@pytest.fixture(params=PORTAL_BACKENDS)
def portal_backend(request: pytest.FixtureRequest, tmp_path: Path) -> backends.PortalBackend:
    if request.param == "sqlite":
        template: backends.SQLiteTemplate = request.getfixturevalue("portal_sqlite_template")
        return template.fresh(tmp_path)
    pg = request.getfixturevalue("portal_postgres")
    if isinstance(pg, str):
        suite_backends.unavailable(pg)
    reason = suite_backends.redis_reason()
    if reason:
        suite_backends.unavailable(reason)
    assert isinstance(pg, backends.PostgresDatabase)
    return pg.backend()


@pytest.fixture
def portal_config(portal_backend: backends.PortalBackend) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "portal-test-secret-key-not-for-production-0123456789",
        "PUBLIC_URL": "http://localhost",
        "IDP_ISSUER": UNUSED_ISSUER,
        "CLIENT_ID": "portail-test",
        "CLIENT_SECRET": "portal-test-client-secret-not-for-production",
        **portal_backend.config(),
    }


@pytest.fixture
def app(portal_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(portal_config)
    yield application
    close(application)
    if portal_config.get("REDIS_URL"):
        suite_backends.clear_redis_prefix(str(portal_config["REDIS_PREFIX"]))


@pytest.fixture
def make_portal(portal_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """More portal instances on the same database and store (other processes), closed at teardown."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        application = create_app({**portal_config, **overrides})
        made.append(application)
        return application

    yield build
    for application in made:
        close(application)
