"""Fixtures of the development provider's tests.

``app`` here replaces the suite's (which builds the IdP): every test runs on the in-memory store and on Redis
(127.0.0.1:6379, skipped when absent outside CI). The provider's clock is a :class:`FakeClock`, so expiry is
tested by moving time forward, not by sleeping.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fc_dev_provider import create_app
from fc_dev_provider.provider import EXTENSION, Provider
from tests.fc_dev_provider.helpers import CLIENTS, ISSUER, REDIS_URL, FakeClock, FcActions, redis_or_skip

#: Every fault type, with delays short enough for a test.
TEST_SCENARIOS: dict[str, Any] = {
    "scenarios": {
        "token-lent": {"label": "token lent", "faults": [{"type": "slow", "endpoint": "token", "seconds": 0.3}]},
        "userinfo-lent": {
            "label": "userinfo lent",
            "faults": [{"type": "slow", "endpoint": "userinfo", "seconds": 0.3}],
        },
        "token-500": {"label": "token 500", "faults": [{"type": "error_status", "endpoint": "token", "status": 500}]},
        "userinfo-503": {
            "label": "userinfo 503",
            "faults": [{"type": "error_status", "endpoint": "userinfo", "status": 503}],
        },
        "sans-date": {"label": "sans date", "faults": [{"type": "missing_claim", "claim": "birthdate"}]},
        "refus": {
            "label": "refus",
            "faults": [{"type": "callback_error", "error": "access_denied", "error_description": "User auth aborted"}],
        },
        "userinfo-mauvaise-signature": {"label": "signature", "faults": [{"type": "bad_signature"}]},
        "userinfo-cle-inconnue": {"label": "kid inconnu", "faults": [{"type": "bad_signature", "kid": "unknown"}]},
        "id-token-mauvaise-signature": {
            "label": "id token",
            "faults": [{"type": "bad_signature", "endpoint": "id_token"}],
        },
    },
    "citizens": {"thomas-girard": "userinfo-503"},
}


@pytest.fixture(params=["memory", "redis"])
def store_config(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        yield {}
        return
    connection = redis_or_skip()
    prefix = f"test:fcdev:{uuid.uuid4().hex}:"
    yield {"REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}
    keys = list(connection.scan_iter(match=prefix + "*"))
    if keys:
        connection.delete(*keys)
    connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scenarios_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.json"
    path.write_text(json.dumps(TEST_SCENARIOS), encoding="utf-8")
    return path


@pytest.fixture
def fc_config(store_config: dict[str, Any], clock: FakeClock, scenarios_file: Path) -> dict[str, Any]:
    return {
        "ISSUER": ISSUER,
        "SECRET_KEY": "fcdev-test-secret-key-0123456789",
        "CLIENTS": CLIENTS,
        "SCENARIOS_FILE": str(scenarios_file),
        "CLOCK": clock,
        "TESTING": True,
        **store_config,
    }


@pytest.fixture
def app(fc_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(fc_config)
    yield application
    get_provider_of(application).store.close()


def get_provider_of(application: Flask) -> Provider:
    provider: Provider = application.extensions[EXTENSION]
    return provider


@pytest.fixture
def fc(client: FlaskClient) -> FcActions:
    return FcActions(client)
