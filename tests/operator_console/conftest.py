"""Fixtures of the operators' console tests. They run on both back ends through the suite's ``app``/``make_app``
fixtures (SQLite + SQL store, PostgreSQL + Redis), with a portal database on the same back end; the console reads
both, read-only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import relying_party
from infra.store import get_store
from operator_console import create_app as create_console
from operator_console.figures import portal_engine
from tests import backends
from tests.staff_consoles import Suite, console_builder, live_suite


@pytest.fixture
def portal_storage(backend: backends.Backend, request: pytest.FixtureRequest, tmp_path: Path) -> backends.Backend:
    """The portal's database, on the back end of the IdP's."""
    directory = tmp_path / "portal"
    directory.mkdir()
    return backends.chosen(request, backend.name, "portal_sqlite_template", "portal_postgres", directory)


@pytest.fixture
def portal(portal_storage: backends.Backend) -> Iterator[Flask]:
    """The portal app on that database (to load scrutins and rolls as the import does)."""
    application = relying_party.create_app(
        {
            "ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "portal-test-secret-key-not-for-production-0123456789",
            "PUBLIC_URL": "http://localhost",
            "IDP_ISSUER": "http://127.0.0.1:9",
            "CLIENT_ID": "portail-test",
            "CLIENT_SECRET": "portal-test-client-secret-not-for-production",
            **portal_storage.config(),
        }
    )
    yield application
    from relying_party.db import get_db

    get_store(application).close()
    get_db(application).dispose()


def console_settings(backend: backends.Backend, portal_storage: backends.Backend, tmp_path: Path) -> dict[str, Any]:
    """The console's settings on the test's back ends (its Redis keys under a prefix of their own)."""
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "operator-console-test-secret-key-not-for-production-0123456789",
        "DATABASE_URL": backend.database_url,
        "PORTAL_DATABASE_URL": portal_storage.database_url,
        "REDIS_URL": backend.redis_url,
        "REDIS_PREFIX": f"test-operator-console:{uuid.uuid4().hex}:",
        "EPHEMERAL_DATABASE_URL": f"sqlite:///{tmp_path / 'operator-console.sqlite3'}",
        "IDP_ISSUER": "http://127.0.0.1:9",  # page tests never contact it
        "CLIENT_ID": "operator-console",
        "CLIENT_SECRET": "operator-console-test-client-secret-not-for-production",
        "PUBLIC_URL": "http://localhost",
    }


@pytest.fixture
def console_config(
    backend: backends.Backend, portal_storage: backends.Backend, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    config = console_settings(backend, portal_storage, tmp_path)
    yield config
    if backend.redis_url:
        backends.clear_redis_prefix(config["REDIS_PREFIX"])


def close_console(console: Flask) -> None:
    portal_engine(console).dispose()


@pytest.fixture
def make_console(console_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    with console_builder(create_console, console_config, close_console) as build:
        yield build


@pytest.fixture
def suite(make_app: Callable[..., Flask], make_console: Callable[..., Flask]) -> Iterator[Suite]:
    with live_suite(make_app, make_console, "operators") as served:
        yield served
