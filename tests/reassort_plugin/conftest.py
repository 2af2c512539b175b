"""The réassort plugin's tests: the IdP with ``IDP_PLUGINS=reassort`` on every storage back end."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import AuthActions, VoterFactory
from tests.reassort_plugin.helpers import ReassortActions


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PLUGINS": "reassort"}


@pytest.fixture
def reassort(client: FlaskClient) -> ReassortActions:
    return ReassortActions(client)


@pytest.fixture
def signed_in(app: Flask, voters: VoterFactory, auth: AuthActions) -> Any:
    """An activated voter (question défi "football_team"), signed in at the password level in ``client``."""
    voter = voters.create()
    assert auth.login(voter.identifier).status_code == 302
    return voter
