"""Fixtures shared by the whole suite. ``app`` is parametrised over the storage back ends (see backends.py);
pytest-flask derives ``client`` and ``live_server`` from it."""

from __future__ import annotations


from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from tests import backends
from tests.helpers import AuthActions, VoterFactory

BACKEND_NAMES = ["sqlite", "postgresql"]

#: Cheap argon2 parameters for tests (production defaults are in idp.config).
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> backends.SQLiteTemplate:
    return backends.SQLiteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[backends.PostgresDatabase | str]:
    db = backends.postgres_or_reason()
    yield db
    if isinstance(db, backends.PostgresDatabase):
        db.drop()


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[backends.Backend]:
    if request.param == "sqlite":
        template: backends.SQLiteTemplate = request.getfixturevalue("sqlite_template")
        yield template.fresh(tmp_path)
        return
    pg = request.getfixturevalue("postgres")
    if isinstance(pg, str):
        backends.unavailable(pg)
    reason = backends.redis_reason()
    if reason:
        backends.unavailable(reason)
    assert isinstance(pg, backends.PostgresDatabase)
    pg.truncate()
    chosen = backends.Backend("postgresql", pg.url, backends.REDIS_URL)
    yield chosen


@pytest.fixture
def app_config(backend: backends.Backend) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "HMAC_KEY": "test-hmac-key-not-for-production-0123456789",
        "CAPTCHA_BACKEND": "fixed:12345",
        "PUBLIC_URL": "http://localhost",
        **FAST_ARGON2,
        **backend.config(),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    from idp.db import get_db

    get_db(application).dispose()
    prefix = str(app_config.get("REDIS_PREFIX") or "")
    if app_config.get("REDIS_URL"):
        backends.clear_redis_prefix(prefix)


@pytest.fixture
def voters(app: Flask) -> VoterFactory:
    return VoterFactory(app)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


