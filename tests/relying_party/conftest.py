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
from tests import backends

PORTAL_BACKENDS = ["sqlite", "postgresql"]

#: The IdP address of page tests: never contacted (those tests put the signed-in state in the session).
UNUSED_ISSUER = "http://127.0.0.1:9"


def close(application: Flask) -> None:
    get_store(application).close()
    get_db(application).dispose()


@pytest.fixture(params=PORTAL_BACKENDS)
def portal_backend(request: pytest.FixtureRequest, tmp_path: Path) -> backends.Backend:
    """The portal's storage of a test (the session's fixtures are in tests/conftest.py)."""
    return backends.chosen(request, request.param, "portal_sqlite_template", "portal_postgres", tmp_path)


@pytest.fixture
def portal_config(portal_backend: backends.Backend) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "portal-test-secret-key-not-for-production-0123456789",
        "PUBLIC_URL": "http://localhost",
        "IDP_ISSUER": UNUSED_ISSUER,
        "CLIENT_ID": "portail-test",
        "CLIENT_SECRET": "portal-test-client-secret-not-for-production",
        "CAPTCHA_BACKEND": "fixed:12345",
        **portal_backend.config(),
    }


@pytest.fixture
def app(portal_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(portal_config)
    yield application
    close(application)
    if portal_config.get("REDIS_URL"):
        backends.clear_redis_prefix(str(portal_config["REDIS_PREFIX"]))


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
