"""A live IdP on 127.0.0.1 and the Node.js relying party (interop/rp_flow.mjs) that runs against it.

The IdP is the suite's ``app`` (so it runs on both back ends), served by Werkzeug's threaded server on a free
port; its ``PUBLIC_URL`` (from which the issuer and every endpoint are derived) is that address. The npm
packages pinned in interop/package-lock.json are installed on first use with ``npm ci``.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from idp.db import get_db
from idp.oidc import clients
from idp.oidc.clients import ClientSettings
from idp.oidc.provider import get_provider
from tests import backends
from tests.interop_node import INTEROP_DIR, node_or_reason

RP_FLOW = INTEROP_DIR / "rp_flow.mjs"
FLOW_TIMEOUT = 120


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with interop/node_modules installed from the lock file."""
    try:
        return node_or_reason("openid-client")
    except LookupError as why:
        backends.unavailable(str(why))
        raise


def _not_started(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not started"]


@pytest.fixture
def idp_listener() -> Iterator[BaseWSGIServer]:
    """A bound socket on a free port first, so that the app can be built knowing its own public address."""
    server = make_server("127.0.0.1", 0, _not_started, threaded=True)
    yield server
    server.server_close()


@pytest.fixture
def app_config(app_config: dict[str, Any], idp_listener: BaseWSGIServer) -> dict[str, Any]:
    return {**app_config, "PUBLIC_URL": f"http://127.0.0.1:{idp_listener.server_port}"}


@pytest.fixture
def live_idp(app: Flask, idp_listener: BaseWSGIServer) -> Iterator[str]:
    """The issuer URL of the app, served until the end of the test (with its ES256 and RS256 keys)."""
    with get_db(app).transaction() as session:
        get_provider(app).keys.init(session)
    idp_listener.app = app
    thread = threading.Thread(target=idp_listener.serve_forever, args=(0.02,), name="live-idp", daemon=True)
    thread.start()
    yield get_provider(app).issuer
    idp_listener.shutdown()
    thread.join(timeout=10)


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    auth_method: str
    redirect_uri: str
    post_logout_redirect_uri: str


@pytest.fixture
def register_client(app: Flask) -> Callable[..., RegisteredClient]:
    """Register a client the way ``idp clients create`` does (http redirect URIs on loopback only)."""

    def register(
        *, auth_method: str, alg: str, first_party: bool, name: str = "Application d'essai"
    ) -> RegisteredClient:
        redirect_uri = "http://127.0.0.1/interop/callback"
        post_logout = "http://127.0.0.1/interop/logged-out"
        settings = ClientSettings(
            client_name=name,
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[post_logout],
            token_endpoint_auth_method=auth_method,
            first_party=first_party,
            id_token_signed_response_alg=alg,
        )
        with get_db(app).transaction() as session:
            client, secret = clients.create(session, settings, app.config, allow_http=True)
            client_id = client.client_id
        return RegisteredClient(client_id, secret, auth_method, redirect_uri, post_logout)

    return register


@dataclass(frozen=True)
class FlowRun:
    returncode: int
    report: dict[str, Any]
    stderr: str

    @property
    def steps(self) -> dict[str, Any]:
        steps = self.report.get("steps")
        return steps if isinstance(steps, dict) else {}

    def explain(self) -> str:
        summary = {k: v for k, v in self.report.items() if k != "steps"}
        stderr = self.stderr.strip()
        return json.dumps(summary, indent=2, ensure_ascii=False) + (f"\nstderr: {stderr}" if stderr else "")


@pytest.fixture
def run_rp_flow(node: str) -> Callable[[dict[str, Any]], FlowRun]:
    """Run interop/rp_flow.mjs with this configuration; its JSON report (the last line of its output)."""

    def run(config: dict[str, Any]) -> FlowRun:
        done = subprocess.run(
            [node, str(RP_FLOW)],
            input=json.dumps(config),
            capture_output=True,
            text=True,
            timeout=FLOW_TIMEOUT,
            cwd=INTEROP_DIR,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            report = {"ok": False, "failed_step": "output", "error": {"message": done.stdout[-2000:]}}
        return FlowRun(done.returncode, report, done.stderr)

    return run
