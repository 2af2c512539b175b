"""The portal's fixtures, for the tests of the tools that read what the portal exports (the election record): a
portal on each back end as ``portal``; ``app`` stays the IdP's, as the audit tools' tests use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from relying_party import create_app
from tests import backends as suite_backends
from tests.relying_party.conftest import (  # noqa: F401 - fixtures used by name
    close,
    portal_backend,
    portal_config,
)


@pytest.fixture
def portal(portal_config: dict[str, Any]) -> Iterator[Flask]:  # noqa: F811 - the fixture above, by name
    application = create_app(portal_config)
    yield application
    close(application)
    if portal_config.get("REDIS_URL"):
        suite_backends.clear_redis_prefix(str(portal_config["REDIS_PREFIX"]))
