"""Fixtures of the fuzz suite: the IdP (with the réassort plugin and a registered client), the portal and the
auditors' console, on the suite's back ends. The portal's and the console's fixtures are those of their own tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from relying_party import create_app as create_portal
from tests import backends as suite_backends
from tests.audit_console.conftest import console_config, make_console, suite  # noqa: F401 - fixtures
from tests.relying_party.conftest import (  # noqa: F401 - fixtures
    close,
    portal_backend,
    portal_config,
    portal_postgres,
    portal_sqlite_template,
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PLUGINS": "reassort"}


@pytest.fixture
def portal(portal_config: dict[str, Any]) -> Iterator[Flask]:  # noqa: F811 - the portal's own fixture
    application = create_portal(portal_config)
    yield application
    close(application)
    if portal_config.get("REDIS_URL"):
        suite_backends.clear_redis_prefix(str(portal_config["REDIS_PREFIX"]))
