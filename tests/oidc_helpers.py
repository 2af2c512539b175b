"""Helpers of the OpenID Provider tests: clients, keys, and a relying party driving the real screens.

Everything goes through the Flask test client and the real sign-in screens (``AuthActions``); tokens are verified
with joserfc against the JWKS fetched from the provider, as a relying party would.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.oidc import clients
from idp.oidc.clients import ClientSettings
from idp.oidc.keys import SigningKey, generate
from idp.oidc.provider import get_provider
from tests.helpers import AuthActions

ISSUER = "http://localhost"
RP_REDIRECT = "https://rp.example.fr/callback"
RP_LOGOUT_REDIRECT = "https://rp.example.fr/au-revoir"


@functools.cache
def _process_key(alg: str) -> SigningKey:
    """One signing key per algorithm for the whole test process (each test's database gets a copy)."""
    return generate(alg)


def install_keys(app: Flask) -> None:
    """The provider's signing keys, as ``idp oidc keys init`` creates them, made once per test process: an RSA
    key takes about 100 ms to generate, and most tests of the provider start with its keys."""
    with app.app_context(), get_db(app).transaction() as session:
        get_provider(app).keys.init(session, new_key=_process_key)


@dataclass
class RP:
    """A registered client as its developer knows it."""

    client_id: str
    secret: str | None
    redirect_uri: str
    auth_method: str
    private_key: ECKey | None = None
    settings: ClientSettings | None = None


def make_client(app: Flask, **overrides: Any) -> RP:
    values: dict[str, Any] = {
        "client_name": "Application de test",
        "redirect_uris": [RP_REDIRECT],
        "post_logout_redirect_uris": [RP_LOGOUT_REDIRECT],
        "first_party": True,
    }
    values.update(overrides)
    private_key = None
    if values.get("token_endpoint_auth_method") == "private_key_jwt" and "jwks" not in values:
        private_key = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"})
        private_key.ensure_kid()
        values["jwks"] = {"keys": [private_key.as_dict(private=False)]}
    settings = ClientSettings(**values)
    with app.app_context(), get_db(app).transaction() as session:
        client, secret = clients.create(session, settings, app.config, allow_http=True)
        client_id = client.client_id
    redirect_uri = settings.redirect_uris[0] if settings.redirect_uris else ""  # a service has none
    return RP(client_id, secret, redirect_uri, settings.token_endpoint_auth_method, private_key, settings)


def make_service_client(app: Flask, scope: str, **overrides: Any) -> RP:
    """A ministry service registered for the client_credentials grant only (no redirect, no response type)."""
    return make_client(
        app,
        redirect_uris=[],
        post_logout_redirect_uris=[],
        response_types=[],
        grant_types=["client_credentials"],
        scope=scope,
        **overrides,
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def shows_identifier_page(response: TestResponse) -> bool:
    """The identifier page (« Accès au portail Élections »), as ``/authorize`` answers a request that needs a
    sign-in."""
    return response.status_code == 200 and "<h1>Accès au portail Élections</h1>" in response.get_data(as_text=True)


def shows_vote_code_page(response: TestResponse) -> bool:
    """The vote-code step (« Saisie du code de vote »), as ``/authorize`` answers a request for that level."""
    return response.status_code == 200 and "<h1>Saisie du code de vote</h1>" in response.get_data(as_text=True)


def vote_code_action(page: TestResponse) -> str:
    """Where the vote-code step's form posts: ``/login/vote-code?next=…`` (where the request resumes)."""
    import html
    import re

    found = re.search(r'<form method="post" action="(/login/vote-code\?[^"]*)"', page.get_data(as_text=True))
    assert found is not None, "no vote-code form on this page"
    return html.unescape(found.group(1))


def pending_next(client: FlaskClient) -> str | None:
    """Where the browser's sign-in under way goes once passed (``next``, kept in the IdP's session)."""
    with client.session_transaction() as session:
        value = session.get("login_next")
    return value if isinstance(value, str) else None


def jwks_keyset(client: FlaskClient) -> KeySet:
    response = client.get("/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.get_json())


def verify(client: FlaskClient, token: str, algorithms: list[str] | None = None) -> dict[str, Any]:
    """Verify a JWT of the provider against its published JWKS; return the claims."""
    decoded = jwt.decode(token, jwks_keyset(client), algorithms=algorithms or ["ES256", "RS256"])
    return dict(decoded.claims)


def header_of(token: str) -> dict[str, Any]:
    import json

    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")))


@dataclass
class Authorization:
    """The outcome of an authorization request as the relying party receives it."""

    response: TestResponse
    params: dict[str, str]
    verifier: str
    sent: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.params["code"]


class Flow:
    """Drives authorization requests through the real screens, then the token endpoint."""

    def __init__(self, app: Flask, client: FlaskClient, auth: AuthActions) -> None:
        self.app = app
        self.client = client
        self.auth = auth

    def request_params(self, rp: RP, **extra: Any) -> tuple[dict[str, str], str]:
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid profile email academie",
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        for key, value in extra.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return params, verifier

    def start(self, rp: RP, **extra: Any) -> tuple[TestResponse, dict[str, str], str]:
        params, verifier = self.request_params(rp, **extra)
        return self.client.get("/authorize?" + urlencode(params)), params, verifier

    def follow_to_client(self, response: TestResponse, voter: Any = None, *, consent: bool = True) -> TestResponse:
        """Follow redirects inside the IdP (signing in and consenting when asked) until the client is reached."""
        for _ in range(10):
            if shows_identifier_page(response):
                # The identifier page in the authorization request's own answer (next already remembered).
                assert voter is not None, "the provider asked for a sign-in"
                response = self.auth.login(voter.identifier)
                continue
            if response.status_code not in (302, 303):
                return response
            location = response.headers["Location"]
            parts = urlsplit(location)
            if parts.netloc and parts.netloc != "localhost":
                return response
            path = parts.path
            if path == "/login":
                assert voter is not None, "the provider asked for a sign-in"
                self.client.get(location)  # records where to go after the sign-in
                response = self.auth.login(voter.identifier)
                continue
            if path == "/authorize/consent":
                page = self.client.get(location)
                if not consent:
                    return page
                response = self.consent(location, page, "allow")
                continue
            response = self.client.get(location)
        raise AssertionError("too many redirects")

    def consent(self, location: str, page: TestResponse, decision: str) -> TestResponse:
        from tests.helpers import csrf_of

        return self.client.post(location, data={"csrf_token": csrf_of(page), "decision": decision})

    def authorize(self, rp: RP, voter: Any = None, **extra: Any) -> Authorization:
        response, params, verifier = self.start(rp, **extra)
        final = self.follow_to_client(response, voter)
        assert final.status_code == 302, final.get_data(as_text=True)[:500]
        assert final.headers["Location"].startswith(rp.redirect_uri), final.headers["Location"]
        return Authorization(final, query_of(final.headers["Location"]), verifier, params)

    def token_request(self, rp: RP, data: dict[str, str], *, method: str | None = None) -> TestResponse:
        return self.client.post(
            "/token", data=self.authenticate(rp, data, method=method), headers=self.auth_headers(rp, method=method)
        )

    def auth_headers(self, rp: RP, *, method: str | None = None) -> dict[str, str]:
        if (method or rp.auth_method) == "client_secret_basic":
            assert rp.secret
            raw = f"{rp.client_id}:{rp.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def authenticate(
        self, rp: RP, data: dict[str, str], *, method: str | None = None, audience: str = ISSUER
    ) -> dict[str, str]:
        method = method or rp.auth_method
        data = dict(data)
        if method == "client_secret_post":
            assert rp.secret
            data.update(client_id=rp.client_id, client_secret=rp.secret)
        elif method == "none":
            data["client_id"] = rp.client_id
        elif method == "private_key_jwt":
            data.update(
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=self.assertion(rp, audience=audience),
            )
        return data

    def assertion(self, rp: RP, *, audience: str = ISSUER, jti: str | None = None) -> str:
        assert rp.private_key is not None
        now = int(time.time())
        claims = {
            "iss": rp.client_id,
            "sub": rp.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": jti or secrets.token_urlsafe(16),
        }
        return jwt.encode({"alg": "ES256", "kid": rp.private_key.kid}, claims, rp.private_key)

    def exchange(self, rp: RP, authorization: Authorization, **extra: str) -> TestResponse:
        data = {
            "grant_type": "authorization_code",
            "code": authorization.code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": authorization.verifier,
            **extra,
        }
        return self.token_request(rp, data)

    def tokens(self, rp: RP, voter: Any, **extra: Any) -> dict[str, Any]:
        """Sign in, get a code, exchange it: the token response."""
        authorization = self.authorize(rp, voter, **extra)
        response = self.exchange(rp, authorization)
        assert response.status_code == 200, response.get_data(as_text=True)
        body: dict[str, Any] = response.get_json()
        body["_authorization"] = authorization
        return body

    def refresh(self, rp: RP, refresh_token: str, **extra: str) -> TestResponse:
        return self.token_request(rp, {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})


class LogoutReceiver:
    """A real HTTP server on loopback standing for a client's back-channel logout endpoint."""

    def __init__(self, status: int = 200, *, port: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.status = status
        self.received: list[dict[str, list[str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                receiver.received.append({**parse_qs(body), "_content_type": [self.headers["Content-Type"]]})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True  # a receiver back on the port of one just closed
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
