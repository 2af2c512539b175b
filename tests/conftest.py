"""Fixtures shared by the whole suite. ``app`` is parametrised over the storage back ends (see backends.py);
pytest-flask derives ``client`` and ``live_server`` from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import create_app
from tests import backends, template_cache, url_builders
from tests.helpers import AuthActions, VoterFactory
from tests.idp.audit.helpers import SealKey

url_builders.install()
template_cache.install()

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


@pytest.fixture(scope="session")
def portal_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> backends.SQLiteTemplate:
    return backends.SQLiteTemplate(tmp_path_factory.mktemp("portal-sqlite-template"), backends.PORTAL)


@pytest.fixture(scope="session")
def portal_postgres() -> Iterator[backends.PostgresDatabase | str]:
    db = backends.postgres_or_reason(backends.PORTAL)
    yield db
    if isinstance(db, backends.PostgresDatabase):
        db.drop()


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> backends.Backend:
    """The IdP's storage of a test."""
    return backends.chosen(request, request.param, "sqlite_template", "postgres", tmp_path)


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
def make_app(app_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Build more app instances on the same database and store (other processes), closed at teardown."""
    from idp.db import get_db

    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        application = create_app({**app_config, **overrides})
        made.append(application)
        return application

    yield build
    for application in made:
        get_db(application).dispose()


@pytest.fixture
def voters(app: Flask) -> VoterFactory:
    return VoterFactory(app)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Replace pytest-flask's fixture of the same name, which keeps one request context pushed for the whole test.

    With that context pushed, every request of the test client reuses one application context, so ``g`` (the
    request's database session, Flask-WTF's CSRF token) would outlive each request: unlike production. Tests that
    need a context push one explicitly (``with app.app_context():``).
    """


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client that does not preserve request contexts between requests (pytest-flask's does, with
    ``with app.test_client()``), so that a second client in the same test never shares ``g`` with the first."""
    return app.test_client()


@pytest.fixture
def seal_key(tmp_path: Path) -> SealKey:
    """An Ed25519 seal key pair in files (the IdP's seal tests, the console and the standalone verifiers use it)."""
    from idp.audit.sealkey import generate_private_key, public_pem

    private = tmp_path / "seal-key.pem"
    key = generate_private_key(private)
    public = tmp_path / "seal-key.pub"
    public.write_text(public_pem(key.public_key()), encoding="ascii")
    return SealKey(private, public)
