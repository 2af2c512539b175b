"""A live IdP on 127.0.0.1 and the Node.js relying party (interop/rp_flow.mjs) that runs against it.

The IdP is the suite's ``app`` (so it runs on both back ends), served by Werkzeug's threaded server on a free
port; its ``PUBLIC_URL`` (from which the issuer and every endpoint are derived) is that address. The npm
packages pinned in interop/package-lock.json are installed on first use with ``npm ci``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from idp.db import get_db
from idp.oidc import clients
from idp.oidc.clients import ClientSettings
from idp.oidc.provider import get_provider
from tests import backends

INTEROP_DIR = Path(__file__).resolve().parents[2] / "interop"
RP_FLOW = INTEROP_DIR / "rp_flow.mjs"
MIN_NODE_MAJOR = 20
NPM_TIMEOUT = 600
FLOW_TIMEOUT = 120


def _pinned_version(package: str) -> str:
    manifest = json.loads((INTEROP_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"][package])


def _installed_version(package: str) -> str | None:
    path = INTEROP_DIR / "node_modules" / package / "package.json"
    if not path.exists():
        return None
    return str(json.loads(path.read_text(encoding="utf-8"))["version"])


def _node_or_reason() -> tuple[str, str] | str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are needed for the interoperability tests (not found on PATH)"
    answer = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    version = answer.stdout
    try:
        major = int(version.strip().lstrip("v").split(".")[0])
    except ValueError:
        return f"cannot read the Node.js version ({version.strip()!r})"
    if major < MIN_NODE_MAJOR:
        return f"Node.js {MIN_NODE_MAJOR} or later is needed (found {version.strip()})"
    return node, npm


def _npm_ci(npm: str) -> str | None:
    """Install the locked packages unless the pinned openid-client is already there; why it failed, if so.

    Serialised by a lock file: ``npm ci`` empties node_modules first, so two concurrent runs would break each
    other.
    """
    lock_path = Path(tempfile.gettempdir()) / f"portail-elections-npm-{os.getuid()}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version("openid-client") == _pinned_version("openid-client"):
            return None
        done = subprocess.run(
            [npm, "ci", "--prefix", str(INTEROP_DIR), "--no-audit", "--no-fund", "--prefer-offline"],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        return f"`npm ci --prefix interop` failed: {done.stderr.strip()[-2000:]}"
    return None


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with interop/node_modules installed from the lock file."""
    found = _node_or_reason()
    if isinstance(found, str):
        backends.unavailable(found)
    assert not isinstance(found, str)
    node_path, npm = found
    problem = _npm_ci(npm)
    if problem:
        backends.unavailable(problem)
    return node_path


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
