"""Fixtures of the conformance tests: the OpenID Provider fixtures of ``tests.oidc_fixtures`` (imported
here, as a sub-package conftest may not declare ``pytest_plugins``), dynamic registration open, and the
suite's driver."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

# The fixtures module is also loaded as a plugin by the tests/idp/oidc/test_*.py modules; registering it for
# assertion rewriting first means both ways of loading it get the same rewritten module (no "already
# imported" warning, which filterwarnings=error would turn into a failure).
pytest.register_assert_rewrite("tests.oidc_fixtures")

from tests.conformance.support import REGISTRATION_TOKEN, Suite  # noqa: E402
from tests.oidc_fixtures import flow, logout_receiver, rp  # noqa: E402, F401 - fixtures, used by name
from tests.oidc_helpers import Flow  # noqa: E402


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The suite registers clients dynamically in some modules: the registration endpoint is open."""
    return {**app_config, "REGISTRATION_TOKEN": REGISTRATION_TOKEN}


@pytest.fixture
def suite(app: Flask, flow: Flow) -> Suite:  # noqa: F811 - the fixture imported above
    return Suite(app, flow)
