"""The OpenID Connect client's calls to the provider: one keep-alive pool per app, idle connections closed first,
the environment's proxy settings read once per URL (infra.http_pool, infra.oidc_client.ProviderApp)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests.sessions
from flask import Flask

from infra import http_pool, oidc_client


class _Provider(BaseHTTPRequestHandler):
    """A provider that answers discovery and one JSON resource over HTTP/1.1 keep-alive, noting each request's
    client port (one port: one TCP connection)."""

    protocol_version = "HTTP/1.1"
    ports: list[int]

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        body = json.dumps({"issuer": issuer} if self.path.startswith("/.well-known/") else {"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[tuple[str, list[int]]]:
    ports: list[int] = []
    handler = type("Handler", (_Provider,), {"ports": ports})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ports
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _app(issuer: str) -> Flask:
    app = Flask(__name__)
    oidc_client.init_app(
        app,
        issuer=issuer,
        client_id="portail-elections",
        client_secret="not-a-secret",
        scopes="openid",
        timeout=5,
        public_url="http://127.0.0.1:1",
        issuer_setting="PORTAL_IDP_ISSUER",
    )
    return app


def _close(app: Flask) -> None:
    oidc_client.get_client(app).close()


def test_calls_reuse_one_connection(provider: tuple[str, list[int]]) -> None:
    issuer, ports = provider
    app = _app(issuer)
    with app.app_context():
        assert oidc_client.metadata()["issuer"] == issuer  # discovery: a session of its own
        client = oidc_client.get_client()
        for _ in range(3):  # Authlib makes and closes a session per call
            assert client.get(f"{issuer}/resource", withhold_token=True).json() == {"ok": True}
    assert len(ports) == 4
    assert len(set(ports)) == 1, "every call should reuse the first call's connection"
    _close(app)


def test_an_idle_connection_is_closed_before_the_server_would(
    provider: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer, ports = provider
    app = _app(issuer)
    with app.app_context():
        client = oidc_client.get_client()
        client.get(f"{issuer}/resource", withhold_token=True)
        monkeypatch.setattr(http_pool, "MAX_IDLE", -1.0)  # every pooled connection is now too old
        client.get(f"{issuer}/resource", withhold_token=True)
        monkeypatch.setattr(http_pool, "MAX_IDLE", 60.0)
        client.get(f"{issuer}/resource", withhold_token=True)
    discovery, first, second, third = ports
    assert first == discovery
    assert second != first, "a connection idle too long must not be reused"
    assert third == second
    _close(app)


def test_the_environment_is_read_once_per_url(provider: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    issuer, _ = provider
    looked_up: list[str] = []
    original = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        looked_up.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    app = _app(issuer)
    with app.app_context():
        client = oidc_client.get_client()
        for _ in range(3):
            client.get(f"{issuer}/resource", withhold_token=True)
        client.get(f"{issuer}/other", withhold_token=True)
    assert looked_up.count(f"{issuer}/resource") == 1
    assert looked_up.count(f"{issuer}/other") == 1
    _close(app)


def test_two_apps_have_pools_of_their_own(provider: tuple[str, list[int]]) -> None:
    issuer, ports = provider
    first, second = _app(issuer), _app(issuer)
    for app in (first, second):
        with app.app_context():
            oidc_client.get_client().get(f"{issuer}/resource", withhold_token=True)
    assert len(set(ports)) == 2
    _close(first)
    _close(second)
