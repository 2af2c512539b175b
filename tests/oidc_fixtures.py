"""Fixtures of the OpenID Provider tests, loaded by each ``tests/idp/oidc/test_*.py`` module with
``pytest_plugins = ["tests.oidc_fixtures"]`` (a plugin module must not be imported directly, hence apart from
``tests.oidc_helpers``)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import AuthActions
from tests.oidc_helpers import RP, Flow, install_keys, make_client


@pytest.fixture
def flow(app: Flask, client: FlaskClient, auth: AuthActions) -> Flow:
    """The provider with its signing keys, and a relying party driving the screens of ``client``."""
    install_keys(app)
    return Flow(app, client, auth)


@pytest.fixture
def rp(app: Flask, flow: Flow) -> RP:
    """A first-party confidential client (client_secret_basic, public subjects, no consent screen)."""
    return make_client(app)


@pytest.fixture
def logout_receiver():
    from tests.oidc_helpers import LogoutReceiver

    receiver = LogoutReceiver()
    yield receiver
    receiver.close()
