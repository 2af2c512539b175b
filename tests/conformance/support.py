"""What the OpenID Foundation conformance suite does as a relying party, over the Flask test client.

The suite's test modules are sequences of *conditions* (``ValidateIdToken``, ``CheckMatchingStateParameter``,
``CheckErrorFromTokenEndpointResponseErrorInvalidGrant``…). The checks below are those conditions, written
anew from what they verify, so that each test of this package reads like the module it is named after.
Requests are built as the suite builds them: no PKCE unless the module adds it (PKCE is optional for
confidential clients), ``state`` and ``nonce`` random, the voter signing in through the real screens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.test import TestResponse

from idp.models import Voter
from idp.store import get_store
from infra.sessions import store_key
from tests.oidc_helpers import ISSUER, RP, Flow, header_of, pkce_pair, query_of

#: The initial access token that opens dynamic registration in these tests (the suite's "dynamic client").
REGISTRATION_TOKEN = "conformance-initial-access-token-0123456789"
#: The issuer of an instance configured as in production (every endpoint https), for the discovery checks.
HTTPS_ISSUER = "https://connexion.elections.example.fr"
#: Errors answering ``prompt=none`` when the provider needs the voter (OIDC Core 3.1.2.6).
INTERACTION_ERRORS = {
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
}
#: Clock skew the suite tolerates on ``iat``/``exp`` (ValidateIdToken).
SKEW = 300

# RFC 6749 appendix A: characters allowed in error_description / error_uri, tokens and scope tokens.
_NQSCHAR = re.compile(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]*$")
_URI_CHARS = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]*$")
_VSCHAR = re.compile(r"^[\x20-\x7E]+$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")


def random_state(length: int = 32) -> str:
    """A state value of exactly ``length`` URL-safe characters (the suite uses 128 to catch truncation)."""
    return secrets.token_urlsafe(length)[:length]


@dataclass
class Callback:
    """The authorization response as the relying party's redirect URI receives it."""

    response: TestResponse
    sent: dict[str, str]
    params: dict[str, str]
    verifier: str | None = None

    @property
    def code(self) -> str:
        return self.params["code"]


@dataclass
class Tokens:
    """A successful token response, checked, with its ID token's verified claims."""

    body: dict[str, Any]
    id_claims: dict[str, Any]
    callback: Callback | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def access_token(self) -> str:
        return str(self.body["access_token"])

    @property
    def id_token(self) -> str:
        return str(self.body["id_token"])


class Suite:
    """The suite's relying party: builds requests, follows the voter through the screens, checks."""

    def __init__(self, app: Flask, flow: Flow) -> None:
        self.app = app
        self.flow = flow

    @property
    def client(self) -> FlaskClient:
        return self.flow.client

    # --- authorization endpoint ----------------------------------------------------------------------------

    def request(self, rp: RP, *, pkce: bool = False, **changes: str | None) -> tuple[dict[str, str], str | None]:
        """The parameters of an authorization request (a value of None removes that parameter)."""
        params: dict[str, str] = {
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "state": random_state(),
            "nonce": random_state(),
        }
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return params, verifier

    def send(self, params: dict[str, str], *, method: str = "GET") -> TestResponse:
        if method == "POST":
            return self.client.post("/authorize", data=params)
        return self.client.get("/authorize?" + urlencode(params))

    def authorize(
        self,
        rp: RP,
        voter: Voter | None = None,
        *,
        pkce: bool = False,
        method: str = "GET",
        **changes: str | None,
    ) -> Callback:
        """Send the request, sign in and consent when asked, and return the response at the redirect URI."""
        params, verifier = self.request(rp, pkce=pkce, **changes)
        final = self.flow.follow_to_client(self.send(params, method=method), voter)
        return self.callback(final, rp, params, verifier)

    def callback(self, response: TestResponse, rp: RP, sent: dict[str, str], verifier: str | None = None) -> Callback:
        """CheckMatchingCallbackParameters, CheckIfAuthorizationEndpointError, CheckMatchingStateParameter and
        RFC 9207's ``iss``: a code, at exactly the registered redirect URI, with the state sent."""
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        location = response.headers["Location"]
        assert location.startswith(rp.redirect_uri + "?"), location
        params = query_of(location)
        assert "error" not in params, params
        assert params.get("state") == sent.get("state")
        assert params["iss"] == ISSUER
        code = params["code"]
        # EnsureMinimumAuthorizationCodeLength / Entropy: at least 128 bits, URL-safe characters.
        assert len(code) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", code), code
        return Callback(response, sent, params, verifier)

    def authorization_error(self, response: TestResponse, rp: RP, sent: dict[str, str]) -> dict[str, str]:
        """performGenericAuthorizationEndpointErrorResponseValidation: an error at the registered
        redirect URI, the state unchanged, ``iss`` present, no code, a well-formed description. Returns the
        parameters."""
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        location = response.headers["Location"]
        assert location.startswith(rp.redirect_uri + "?"), location
        params = query_of(location)
        assert "code" not in params and params["error"]
        if "state" in sent:
            assert params["state"] == sent["state"], "the state must come back unchanged"
        assert params["iss"] == ISSUER
        assert _NQSCHAR.match(params.get("error_description", "")), params.get("error_description")
        assert _URI_CHARS.match(params.get("error_uri", ""))
        return params

    def prompt_none(self, rp: RP) -> dict[str, str]:
        """A prompt=none request from a browser that must not be signed in any more: its error parameters."""
        params, _ = self.request(rp, prompt="none", state=random_state(128))
        error = self.authorization_error(self.send(params), rp, params)
        assert error["error"] in INTERACTION_ERRORS, error
        return error

    # --- token endpoint ------------------------------------------------------------------------------------

    def exchange(self, rp: RP, callback: Callback, **extra: str) -> TestResponse:
        data = {
            "grant_type": "authorization_code",
            "code": callback.code,
            "redirect_uri": rp.redirect_uri,
            **extra,
        }
        if callback.verifier is not None:
            data["code_verifier"] = callback.verifier
        return self.flow.token_request(rp, data)

    def token_response(self, rp: RP, response: TestResponse, nonce: str | None) -> Tokens:
        """CheckIfTokenEndpointResponseError, the checks of a successful token response, the ID token."""
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        assert "no-store" in _directives(response.headers.get("Cache-Control"))
        if "Pragma" in response.headers:
            assert "no-cache" in _directives(response.headers["Pragma"])
        body: dict[str, Any] = response.get_json()
        assert str(body["token_type"]).lower() == "bearer"
        assert _VSCHAR.match(body["access_token"]) and len(body["access_token"]) >= 22
        assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
        if "refresh_token" in body:
            assert _VSCHAR.match(body["refresh_token"]) and len(body["refresh_token"]) >= 22
        claims = self.id_token(rp, body["id_token"], nonce=nonce, access_token=body["access_token"])
        return Tokens(body, claims, headers=dict(response.headers))

    def tokens(self, rp: RP, voter: Voter | None, *, pkce: bool = False, **changes: str | None) -> Tokens:
        """oidcc-server's happy flow: authorize, redeem the code, check everything."""
        params, verifier = self.request(rp, pkce=pkce, **changes)
        callback = self.callback(self.flow.follow_to_client(self.send(params), voter), rp, params, verifier)
        result = self.token_response(rp, self.exchange(rp, callback), callback.sent.get("nonce"))
        result.callback = callback
        return result

    def token_error(self, response: TestResponse, error: str) -> dict[str, Any]:
        """CheckTokenEndpointHttpStatus400, CheckTokenEndpointReturnedJsonContentType, the error code, and the
        syntax of error_description and error_uri (RFC 6749 5.2)."""
        assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
        assert response.mimetype == "application/json"
        body: dict[str, Any] = response.get_json()
        assert body["error"] == error, body
        description = body.get("error_description", "")
        assert isinstance(description, str) and _NQSCHAR.match(description), description
        assert not any(ch in description for ch in "\r\n\t")
        assert _URI_CHARS.match(str(body.get("error_uri", "")))
        return body

    # --- ID token, userinfo --------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        response = self.client.get("/jwks.json")
        assert response.status_code == 200
        keys: dict[str, Any] = response.get_json()
        return keys

    def id_token(
        self, rp: RP, token: str, *, nonce: str | None = None, access_token: str | None = None
    ) -> dict[str, Any]:
        """ValidateIdToken, ValidateIdTokenNonce, ValidateIdTokenSignature(UsingKid),
        CheckForSubjectInIdToken and ValidateAtHash: verified with the one JWKS key its ``kid`` names."""
        header = header_of(token)
        discovery = self.client.get("/.well-known/openid-configuration").get_json()
        assert header["alg"] in discovery["id_token_signing_alg_values_supported"]
        named = [k for k in self.jwks()["keys"] if k.get("kid") == header.get("kid")]
        assert len(named) == 1, "the kid of the ID token names exactly one key of the JWKS"
        claims = dict(jwt.decode(token, KeySet.import_key_set({"keys": named}), algorithms=[header["alg"]]).claims)
        now = time.time()
        assert claims["iss"] == ISSUER
        audience = claims["aud"]
        assert audience == rp.client_id or (isinstance(audience, list) and rp.client_id in audience)
        assert claims["exp"] > now - SKEW
        assert claims["iat"] <= now + SKEW
        assert isinstance(claims["sub"], str) and claims["sub"]
        if nonce is not None:
            assert claims["nonce"] == nonce
        else:
            assert "nonce" not in claims
        if access_token is not None and "at_hash" in claims:
            assert claims["at_hash"] == half_hash(access_token, header["alg"])
        return claims

    def userinfo(self, access_token: str, how: str = "get") -> TestResponse:
        """CallUserInfoEndpointWithBearerToken: GET or POST, the token in the header, or POST in the body."""
        bearer = {"Authorization": f"Bearer {access_token}"}
        if how == "get":
            return self.client.get("/userinfo", headers=bearer)
        if how == "post-header":
            return self.client.post("/userinfo", headers=bearer)
        assert how == "post-body"
        return self.client.post("/userinfo", data={"access_token": access_token})

    def userinfo_claims(self, tokens: Tokens, how: str = "get") -> dict[str, Any]:
        """EnsureUserInfoContainsSub, VerifyUserInfoAndIdTokenInTokenEndpointSameSub,
        ValidateUserInfoStandardClaims (types of the standard claims) and EnsureUserInfoBirthDateValid."""
        response = self.userinfo(tokens.access_token, how)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        claims: dict[str, Any] = response.get_json()
        assert claims["sub"] == tokens.id_claims["sub"]
        for name in ("name", "given_name", "family_name", "gender", "birthdate", "email"):
            if name in claims:
                assert isinstance(claims[name], str) and claims[name]
        if "email_verified" in claims:
            assert isinstance(claims["email_verified"], bool)
        if "birthdate" in claims:
            assert re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", claims["birthdate"])
        return claims


def _directives(header: str | None) -> set[str]:
    return {part.strip().lower() for part in (header or "").split(",")}


def half_hash(value: str, alg: str) -> str:
    """at_hash / c_hash (OIDC Core 3.1.3.6): left half of the SHA-2 digest matching the algorithm's size."""
    digest = hashlib.new("sha" + alg[2:], value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def with_alg_none(token: str) -> str:
    """ChangeIdTokenToAlgNone: the same claims, header ``alg: none``, no signature."""
    header = {**header_of(token), "alg": "none"}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}.{token.split('.')[1]}."


def age_sign_in(app: Flask, client: FlaskClient, seconds: int) -> None:
    """Make the browser's current sign-in ``seconds`` older, in the real session store: what waiting does
    (the suite's WaitFor2Seconds) without making the test wait."""
    cookie = client.get_cookie(str(app.config["SESSION_COOKIE_NAME"]))
    assert cookie is not None, "the browser has no IdP session"
    key = store_key(cookie.value)
    store = get_store(app)
    raw = store.get(key)
    assert raw is not None
    entry = json.loads(raw)
    entry["data"]["auth"]["auth_time"] -= seconds
    store.set(key, json.dumps(entry), 600)


def wait_for_next_second() -> None:
    """Let the clock reach the next whole second (at most one second): JWT times are in whole seconds and the
    suite checks that a refreshed ID token has a new ``iat`` (its WaitForOneSecond)."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


def scope_token_valid(value: str) -> bool:
    return bool(_SCOPE_TOKEN.match(value))


def https_url(value: Any) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is not None and parts.scheme == "https" and bool(parts.hostname) and not parts.fragment


def register(client: FlaskClient, metadata: dict[str, Any]) -> TestResponse:
    """RFC 7591 registration with the initial access token, as the suite's dynamic-client variant does."""
    return client.post("/register", json=metadata, headers={"Authorization": f"Bearer {REGISTRATION_TOKEN}"})


def suite_registration(test_name: str, redirect_uri: str, **extra: Any) -> dict[str, Any]:
    """The body of the suite's registration request (OIDCCCreateDynamicClientRegistrationRequest): a client
    name from the test, the code grant and response type, a public RS256 JWK Set (always sent, whatever the
    authentication method: GenerateRS256ClientJWKs, AddPublicJwksToDynamicRegistrationRequest), the token
    endpoint authentication method, the redirect URI and a contact."""
    key = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"})
    key.ensure_kid()
    return {
        "client_name": f"{test_name} {secrets.token_hex(4)}",
        "grant_types": ["authorization_code"],
        "jwks": {"keys": [key.as_dict(private=False)]},
        "token_endpoint_auth_method": "client_secret_basic",
        "response_types": ["code"],
        "redirect_uris": [redirect_uri],
        "contacts": ["certification@oidf.org"],
        **extra,
    }


def registered_rp(client: FlaskClient, metadata: dict[str, Any]) -> RP:
    response = register(client, metadata)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    return RP(
        body["client_id"],
        body.get("client_secret"),
        metadata["redirect_uris"][0],
        body["token_endpoint_auth_method"],
    )


class RecordingServer:
    """A real HTTP server on loopback that serves one document and records every request made to it (to prove
    the provider never fetched a ``request_uri`` it declares unsupported)."""

    def __init__(self, body: str, content_type: str = "application/oauth-authz-req+jwt") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        recorder = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append(self.path)
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/request.jwt"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """SerializeRequestObjectWithNullAlgorithm: a JWT with ``alg: none`` and an empty signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."
