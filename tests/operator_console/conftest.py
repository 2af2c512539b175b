"""Fixtures of the operators' console tests. They run on both back ends through the suite's ``app``/``make_app``
fixtures (SQLite + SQL store, PostgreSQL + Redis), with a portal database on the same back end; the console reads
both, read-only."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import relying_party
from infra.db import get_db as get_console_db
from infra.store import get_store
from operator_console import create_app as create_console
from operator_console.figures import portal_engine
from tests import backends
from tests.delivery_servers import free_port
from tests.idp.audit.helpers import cli
from tests.oidc_helpers import install_keys
from tests.relying_party.live import LiveServer


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


@pytest.fixture
def console_config(
    backend: backends.Backend, portal_storage: backends.Backend, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    prefix = f"test-operator-console:{uuid.uuid4().hex}:"
    yield {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "operator-console-test-secret-key-not-for-production-0123456789",
        "DATABASE_URL": backend.database_url,
        "PORTAL_DATABASE_URL": portal_storage.database_url,
        "REDIS_URL": backend.redis_url,
        "REDIS_PREFIX": prefix,
        "EPHEMERAL_DATABASE_URL": f"sqlite:///{tmp_path / 'operator-console.sqlite3'}",
        "IDP_ISSUER": "http://127.0.0.1:9",  # page tests never contact it
        "CLIENT_ID": "operator-console",
        "CLIENT_SECRET": "operator-console-test-client-secret-not-for-production",
        "PUBLIC_URL": "http://localhost",
    }
    if backend.redis_url:
        backends.clear_redis_prefix(prefix)


@pytest.fixture
def make_console(console_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        console = create_console({**console_config, **overrides})
        made.append(console)
        return console

    yield build
    for console in made:
        get_console_db(console).engine.dispose()
        portal_engine(console).dispose()
        get_store(console).close()


@dataclass
class Suite:
    """The IdP and the console, each served on 127.0.0.1 by werkzeug in a thread."""

    idp: Flask
    console: Flask
    idp_url: str
    console_url: str
    client_id: str


@pytest.fixture
def suite(make_app: Callable[..., Flask], make_console: Callable[..., Flask]) -> Iterator[Suite]:
    idp_port, console_port = free_port(), free_port()
    idp_url, console_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{console_port}"
    idp_app = make_app(PUBLIC_URL=idp_url)
    install_keys(idp_app)
    registered = cli(idp_app, "operators", "console-client", "--url", console_url)
    assert registered.exit_code == 0, registered.output
    client_id = re.search(r"client_id: (\S+)", registered.output)
    secret = re.search(r"client_secret: (\S+)", registered.output)
    assert client_id and secret
    console = make_console(
        IDP_ISSUER=idp_url, PUBLIC_URL=console_url, CLIENT_ID=client_id.group(1), CLIENT_SECRET=secret.group(1)
    )
    with LiveServer(idp_app, idp_port), LiveServer(console, console_port):
        yield Suite(idp_app, console, idp_url, console_url, client_id.group(1))
