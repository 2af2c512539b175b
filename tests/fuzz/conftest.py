"""Fixtures of the fuzz suite: the IdP (with the réassort plugin and a registered client), the portal, the auditors'
and the operators' consoles, on the suite's back ends. The portal's and the consoles' fixtures are those of their own
tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.audit_console.conftest import console_config, make_console, suite  # noqa: F401 - fixtures
from tests.operator_console.conftest import portal_storage  # noqa: F401 - fixture
from tests.relying_party.conftest import portal_backend, portal_config  # noqa: F401 - fixtures


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PLUGINS": "reassort"}
