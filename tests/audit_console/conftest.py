"""Fixtures of the auditors' tests. They run on both back ends through the suite's ``app``/``make_app`` fixtures
(SQLite + SQL store, PostgreSQL + Redis); the console reads the same database, read-only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from audit_console import create_app as create_console
from tests import backends
from tests.idp.audit.helpers import SealKey
from tests.staff_consoles import Suite, console_builder, live_suite


def console_settings(backend: backends.Backend, seal_key: SealKey, tmp_path: Path) -> dict[str, Any]:
    """The console's settings on the test's back end (its Redis keys under a prefix of their own)."""
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "console-test-secret-key-not-for-production-0123456789",
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "REDIS_PREFIX": f"test-console:{uuid.uuid4().hex}:",
        "EPHEMERAL_DATABASE_URL": f"sqlite:///{tmp_path / 'audit-console.sqlite3'}",
        "IDP_ISSUER": "http://127.0.0.1:9",  # page tests never contact it
        "CLIENT_ID": "audit-console",
        "CLIENT_SECRET": "console-test-client-secret-not-for-production",
        "PUBLIC_URL": "http://localhost",
        "SEAL_PUBLIC_KEY": seal_key.public_pem,
    }


@pytest.fixture
def console_config(backend: backends.Backend, seal_key: SealKey, tmp_path: Path) -> Iterator[dict[str, Any]]:
    config = console_settings(backend, seal_key, tmp_path)
    yield config
    if backend.redis_url:
        backends.clear_redis_prefix(config["REDIS_PREFIX"])


@pytest.fixture
def make_console(console_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    with console_builder(create_console, console_config) as build:
        yield build


@pytest.fixture
def suite(make_app: Callable[..., Flask], make_console: Callable[..., Flask]) -> Iterator[Suite]:
    with live_suite(make_app, make_console, "auditors") as served:
        yield served
