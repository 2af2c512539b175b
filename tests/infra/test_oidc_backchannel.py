"""The relying party's two back-channel calls of a sign-in, the token request and userinfo (infra.oidc_client):
what goes on the wire, what comes back, and how every bad answer is refused, against a provider over real HTTP
(and HTTPS, trusted through the environment as in docker-compose)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from flask import Flask

from infra import oidc_client
from tests.delivery_servers import self_signed_certificate, server_tls_context

CLIENT_ID = "portail-elections"
CLIENT_SECRET = "pas-un-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:1/connexion/retour"


@dataclass
class Seen:
    """What the provider received, and what it answers next (status, body) for each path."""

    requests: list[tuple[str, str, dict[str, str], bytes, int]] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)


class _Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Seen
    scheme: str

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        self.seen.requests.append((self.command, path, dict(self.headers.items()), body, self.client_address[1]))
        issuer = f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"
        local = urlsplit(path).path  # through a proxy the request line holds the absolute URL
        if local == "/.well-known/openid-configuration":
            status, payload, kind = 200, json.dumps(_discovery(issuer)).encode(), "application/json"
        else:
            status, payload, kind = self.seen.answers.get(path, (404, b"{}", "application/json"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def _discovery(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
    }


def _serve(seen: Seen, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    scheme = "https" if tls else "http"
    handler = type("Handler", (_Provider,), {"seen": seen, "scheme": scheme})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def provider(seen: Seen) -> Iterator[str]:
    yield from _serve(seen)


def _app(issuer: str) -> Flask:
    app = Flask(__name__)
    oidc_client.init_app(
        app,
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes="openid profile",
        timeout=5,
        public_url="http://127.0.0.1:1",
        issuer_setting="PORTAL_IDP_ISSUER",
    )
    return app


def _token(seen: Seen, **answer: Any) -> None:
    body = {"access_token": "jeton-acces", "token_type": "Bearer", "expires_in": 300, "id_token": "a.b.c", **answer}
    seen.answers["/token"] = (200, json.dumps(body).encode(), "application/json")


def _fetch(app: Flask) -> dict[str, Any]:
    with app.test_request_context("/connexion/retour"):
        token = oidc_client.get_client().fetch_access_token(
            redirect_uri=REDIRECT_URI, code="le-code", state="un-etat", code_verifier="le-verificateur" * 3
        )
    return dict(token)


def test_the_token_request_is_rfc_6749s_with_pkce_and_client_secret_basic(provider: str, seen: Seen) -> None:
    app = _app(provider)
    _token(seen)
    token = _fetch(app)
    assert token["access_token"] == "jeton-acces" and token["id_token"] == "a.b.c"
    assert isinstance(token["expires_at"], int), "the expiry as Authlib's token carries it"
    method, path, headers, body, _ = seen.requests[-1]
    assert (method, path) == ("POST", "/token")
    assert headers["Content-Type"].split(";")[0] == "application/x-www-form-urlencoded"
    assert headers["Accept"] == "application/json"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    form = parse_qs(body.decode(), strict_parsing=True)
    assert form == {
        "grant_type": ["authorization_code"],
        "redirect_uri": [REDIRECT_URI],
        "code": ["le-code"],
        "code_verifier": ["le-verificateur" * 3],
    }, "no state, no client secret in the body"
    oidc_client.get_client(app).close()


def test_userinfo_is_read_with_the_bearer_token(provider: str, seen: Seen) -> None:
    app = _app(provider)
    seen.answers["/userinfo"] = (200, json.dumps({"sub": "s", "email": "e@x.fr"}).encode(), "application/json")
    with app.app_context():
        answer = oidc_client.get_client().userinfo(token={"access_token": "jeton-acces", "token_type": "Bearer"})
    assert answer == {"sub": "s", "email": "e@x.fr"}
    method, path, headers, _, _ = seen.requests[-1]
    assert (method, path) == ("GET", "/userinfo")
    assert headers["Authorization"] == "Bearer jeton-acces"
    oidc_client.get_client(app).close()


def test_the_calls_share_one_keep_alive_connection(provider: str, seen: Seen) -> None:
    app = _app(provider)
    _token(seen)
    seen.answers["/userinfo"] = (200, b'{"sub": "s"}', "application/json")
    for _ in range(3):
        _fetch(app)
        with app.app_context():
            oidc_client.get_client().userinfo(token={"access_token": "jeton-acces", "token_type": "Bearer"})
    ports = {port for _, path, _, _, port in seen.requests if path in ("/token", "/userinfo")}
    assert len([r for r in seen.requests if r[1] in ("/token", "/userinfo")]) == 6
    assert len(ports) == 1, "one connection for every call"
    oidc_client.get_client(app).close()


@pytest.mark.parametrize(
    ("status", "body", "kind", "error"),
    [
        (400, b'{"error": "invalid_grant", "error_description": "code used"}', "application/json", OAuthError),
        (200, b'{"error": "invalid_request"}', "application/json", OAuthError),
        (503, b"<html>indisponible</html>", "text/html", requests.HTTPError),
        (500, b'{"error": "server_error"}', "application/json", requests.HTTPError),
        (429, b"<html>trop de demandes</html>", "text/html", requests.HTTPError),
        (200, b"pas du JSON", "text/plain", ValueError),
        (200, b'["une", "liste"]', "application/json", ValueError),
    ],
)
def test_a_bad_token_answer_is_refused(
    provider: str, seen: Seen, status: int, body: bytes, kind: str, error: type[Exception]
) -> None:
    app = _app(provider)
    seen.answers["/token"] = (status, body, kind)
    with pytest.raises(error) as raised:
        _fetch(app)
    assert isinstance(raised.value, oidc_client.CALLBACK_ERRORS), "the callback turns it into its French message"
    if error is OAuthError:
        assert raised.value.error in ("invalid_grant", "invalid_request")
    oidc_client.get_client(app).close()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(401, b'{"error": "invalid_token"}', requests.HTTPError), (200, b"pas du JSON", ValueError)],
)
def test_a_bad_userinfo_answer_is_refused(
    provider: str, seen: Seen, status: int, body: bytes, error: type[Exception]
) -> None:
    app = _app(provider)
    seen.answers["/userinfo"] = (status, body, "application/json")
    with app.app_context(), pytest.raises(error) as raised:
        oidc_client.get_client().userinfo(token={"access_token": "jeton-acces", "token_type": "Bearer"})
    assert isinstance(raised.value, oidc_client.CALLBACK_ERRORS)
    oidc_client.get_client(app).close()


def test_a_token_of_another_type_is_not_sent_as_a_bearer_token(provider: str, seen: Seen) -> None:
    app = _app(provider)
    seen.answers["/userinfo"] = (200, b'{"sub": "s"}', "application/json")
    with app.app_context(), pytest.raises(Exception) as raised:
        oidc_client.get_client().userinfo(token={"access_token": "jeton-acces", "token_type": "MAC"})
    assert isinstance(raised.value, oidc_client.CALLBACK_ERRORS)
    assert not [r for r in seen.requests if r[1] == "/userinfo"], "nothing sent"
    oidc_client.get_client(app).close()


def test_an_unreachable_provider_is_a_callback_error(provider: str, seen: Seen) -> None:
    app = _app(provider)
    with app.app_context():
        metadata = oidc_client.get_client().load_server_metadata()
        metadata["token_endpoint"] = "http://127.0.0.1:9/token"  # discard: nothing listens
    with pytest.raises(Exception) as raised:
        _fetch(app)
    assert isinstance(raised.value, oidc_client.CALLBACK_ERRORS)
    oidc_client.get_client(app).close()


def test_https_trusts_the_ca_bundle_of_the_environment(
    seen: Seen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in docker-compose: the portal reaches the IdP through the proxy with TLS, its CA in REQUESTS_CA_BUNDLE."""
    cert, key = self_signed_certificate(tmp_path)
    _token(seen)
    for provider in _serve(seen, server_tls_context(cert, key)):
        untrusting = _app(provider)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        trusting = _app(provider)
        with trusting.app_context():
            assert oidc_client.metadata()["issuer"] == provider
        assert _fetch(trusting)["access_token"] == "jeton-acces"
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        with untrusting.app_context():
            untrusting_client = oidc_client.get_client()
            untrusting_client.server_metadata.update({**_discovery(provider), "_loaded_at": 0})
        with pytest.raises(Exception) as raised:
            _fetch(untrusting)
        assert isinstance(raised.value, oidc_client.CALLBACK_ERRORS)
        assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value) or "certificate" in str(raised.value).lower()
        oidc_client.get_client(trusting).close()
        oidc_client.get_client(untrusting).close()


def test_the_sign_in_calls_skip_requests_sessions(provider: str, seen: Seen, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token request and userinfo go to the pool directly: no ``requests`` session, request or response object
    (more than half the client's CPU of such a call, measured by ``benchmarks.portal_signin``)."""
    app = _app(provider)
    _token(seen)
    seen.answers["/userinfo"] = (200, b'{"sub": "s"}', "application/json")
    with app.app_context():
        oidc_client.metadata()  # discovery, through requests as before
    sent: list[str] = []
    original = requests.Session.send

    def counting(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(str(request.url))
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting)
    token = _fetch(app)
    with app.app_context():
        assert oidc_client.get_client().userinfo(token=token) == {"sub": "s"}
    assert sent == []
    assert [path for _, path, _, _, _ in seen.requests][-2:] == ["/token", "/userinfo"]
    oidc_client.get_client(app).close()


def test_the_authorization_requests_random_values(provider: str) -> None:
    """state, nonce and the PKCE verifier: fresh for every request, of RFC 7636's alphabet and length, at least as
    strong as Authlib's own, and the challenge sent is the verifier's S256; a value the caller gives is kept."""
    app = _app(provider)
    with app.test_request_context("/connexion"):
        client = oidc_client.get_client()
        first = client.create_authorization_url(redirect_uri=REDIRECT_URI)
        second = client.create_authorization_url(redirect_uri=REDIRECT_URI)
        given = client.create_authorization_url(redirect_uri=REDIRECT_URI, state="etat-donne", nonce="nonce-donne")
    for rv in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", rv["state"]), "192 bits"
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", rv["nonce"]), "128 bits"
        assert re.fullmatch(r"[A-Za-z0-9_-]{64}", rv["code_verifier"]), "384 bits (RFC 7636: 43 to 128 characters)"
        query = {name: values[0] for name, values in parse_qs(urlsplit(rv["url"]).query).items()}
        assert query["state"] == rv["state"] and query["nonce"] == rv["nonce"]
        digest = hashlib.sha256(rv["code_verifier"].encode()).digest()
        assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert query["code_challenge_method"] == "S256" and "code_verifier" not in query
    assert {first[k] for k in ("state", "nonce", "code_verifier")}.isdisjoint(
        {second[k] for k in ("state", "nonce", "code_verifier")}
    )
    assert (given["state"], given["nonce"]) == ("etat-donne", "nonce-donne")
    oidc_client.get_client(app).close()


def test_a_proxy_of_the_environment_is_used(provider: str, seen: Seen, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY as requests honours it: the token request goes to the proxy, with the absolute URL."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", provider)
    app = _app(provider)
    with app.app_context():
        metadata = oidc_client.get_client().load_server_metadata()
        metadata["token_endpoint"] = "http://idp.exemple.invalid/token"  # reachable only through the proxy
    seen.answers["http://idp.exemple.invalid/token"] = (
        200,
        json.dumps({"access_token": "jeton-acces", "token_type": "Bearer"}).encode(),
        "application/json",
    )
    assert _fetch(app)["access_token"] == "jeton-acces"
    method, path, headers, _, _ = seen.requests[-1]
    assert (method, path, headers["Host"]) == ("POST", "http://idp.exemple.invalid/token", "idp.exemple.invalid")
    oidc_client.get_client(app).close()
