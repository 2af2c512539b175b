"""Fixtures of the federation tests: the IdP (the suite's ``app``, on both back ends) configured as a client of
the development provider, which runs for real on 127.0.0.1 on a free port (Werkzeug's threaded server), with its
registered client pointed at the test IdP's address through ``FCDEV_CLIENTS`` and a scenario file whose delays
are short enough for tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from fc_dev_provider import create_app as create_fc_app
from fc_dev_provider.provider import EXTENSION as FC_EXTENSION
from fc_dev_provider.provider import Provider
from tests.idp.federation.helpers import FC_CLIENT_ID, FC_CLIENT_SECRET, FederationActions, fc_clients

#: Every fault the scenario file can inject. "…-trop-lent" outlast the timeout the fault tests set (1 s).
TEST_SCENARIOS: dict[str, Any] = {
    "scenarios": {
        "token-lent": {"label": "token lent", "faults": [{"type": "slow", "endpoint": "token", "seconds": 0.2}]},
        "userinfo-lent": {
            "label": "userinfo lent",
            "faults": [{"type": "slow", "endpoint": "userinfo", "seconds": 0.2}],
        },
        "token-trop-lent": {
            "label": "token trop lent",
            "faults": [{"type": "slow", "endpoint": "token", "seconds": 2}],
        },
        "userinfo-trop-lent": {
            "label": "userinfo trop lent",
            "faults": [{"type": "slow", "endpoint": "userinfo", "seconds": 2}],
        },
        "token-500": {"label": "token 500", "faults": [{"type": "error_status", "endpoint": "token", "status": 500}]},
        "token-401": {"label": "token 401", "faults": [{"type": "error_status", "endpoint": "token", "status": 401}]},
        "userinfo-503": {
            "label": "userinfo 503",
            "faults": [{"type": "error_status", "endpoint": "userinfo", "status": 503}],
        },
        "sans-date-naissance": {"label": "sans date", "faults": [{"type": "missing_claim", "claim": "birthdate"}]},
        "sans-prenoms": {"label": "sans prénoms", "faults": [{"type": "missing_claim", "claim": "given_name"}]},
        "sans-lieu": {"label": "sans lieu", "faults": [{"type": "missing_claim", "claim": "birthplace"}]},
        "refus-usager": {
            "label": "refus",
            "faults": [{"type": "callback_error", "error": "access_denied", "error_description": "User auth aborted"}],
        },
        "erreur-au-retour": {
            "label": "erreur",
            "faults": [{"type": "callback_error", "error": "server_error", "error_description": "Internal error"}],
        },
        "userinfo-signature-invalide": {
            "label": "signature userinfo",
            "faults": [{"type": "bad_signature", "endpoint": "userinfo"}],
        },
        "userinfo-cle-inconnue": {
            "label": "kid userinfo",
            "faults": [{"type": "bad_signature", "endpoint": "userinfo", "kid": "unknown"}],
        },
        "id-token-signature-invalide": {
            "label": "signature id token",
            "faults": [{"type": "bad_signature", "endpoint": "id_token"}],
        },
        "id-token-cle-inconnue": {
            "label": "kid id token",
            "faults": [{"type": "bad_signature", "endpoint": "id_token", "kid": "unknown"}],
        },
    },
    "citizens": {},
}


def _not_started(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not started"]


@dataclass
class FcServer:
    """The development provider, served on 127.0.0.1; ``requests`` lists the paths it was asked for."""

    app: Flask
    issuer: str
    base: str
    requests: list[str] = field(default_factory=list)
    #: Seconds every answer waits (a provider that answers too slowly).
    stall: float = 0.0
    listener: BaseWSGIServer | None = None

    def stop(self) -> None:
        """The provider goes down: its port refuses connections from now on."""
        if self.listener is not None:
            self.listener.shutdown()
            self.listener.server_close()
            self.listener = None

    @property
    def provider(self) -> Provider:
        provider: Provider = self.app.extensions[FC_EXTENSION]
        return provider

    def count(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen == path)


@contextmanager
def serve_fc(directory: Path, *, public_host: str = "127.0.0.1") -> Iterator[FcServer]:
    """Run a development provider; its issuer names ``public_host`` (what browsers and ID tokens see)."""
    listener: BaseWSGIServer = make_server("127.0.0.1", 0, _not_started, threaded=True)
    base = f"http://{public_host}:{listener.server_port}"
    scenarios = directory / "scenarios.json"
    scenarios.write_text(json.dumps(TEST_SCENARIOS), encoding="utf-8")
    fc_app = create_fc_app(
        {
            "ISSUER": base + "/api/v2",
            "SECRET_KEY": "fcdev-test-secret-key-0123456789",
            "SCENARIOS_FILE": str(scenarios),
            "TESTING": True,
        },
        environ={"FCDEV_CLIENTS": json.dumps({"clients": fc_clients()})},
    )
    server = FcServer(fc_app, base + "/api/v2", base, listener=listener)

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        server.requests.append(environ.get("PATH_INFO", ""))
        if server.stall:
            time.sleep(server.stall)
        return fc_app.wsgi_app(environ, start_response)

    listener.app = recording
    thread = threading.Thread(target=listener.serve_forever, args=(0.02,), name="fc-dev-provider", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stall = 0
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def fc_server(tmp_path: Path) -> Iterator[FcServer]:
    with serve_fc(tmp_path) as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], fc_server: FcServer) -> dict[str, Any]:
    return {
        **app_config,
        "FC_ENABLED": True,
        "FC_ISSUER": fc_server.issuer,
        "FC_CLIENT_ID": FC_CLIENT_ID,
        "FC_CLIENT_SECRET": FC_CLIENT_SECRET,
        "FC_HTTP_TIMEOUT": 5,
    }


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture
def fc(client: FlaskClient, browser: requests.Session) -> FederationActions:
    return FederationActions(client, browser)
