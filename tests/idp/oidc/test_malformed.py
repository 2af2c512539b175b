"""Malformed and hostile requests across the provider's endpoints, as a table: each gets the standard OAuth/OIDC
error (JSON, or at the redirect URI once that URI is known to be registered) or the French error page — never a
500, never a redirect to an unregistered URI. The conformance-named table of the lead builds on this one."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.oidc_helpers import RP, RP_LOGOUT_REDIRECT, RP_REDIRECT, Flow, make_client, pkce_pair, query_of

pytest_plugins = ["tests.oidc_fixtures"]

REGISTRATION_TOKEN = "initial-access-token-for-tests-0123456789"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REGISTRATION_TOKEN": REGISTRATION_TOKEN}


@dataclass
class Ctx:
    flow: Flow
    rp: RP
    public: RP

    def authorize(self, **params: Any) -> Any:
        return self.flow.client.get("/authorize?" + urlencode(params))

    def good(self, rp: RP | None = None, **changes: Any) -> dict[str, str]:
        rp = rp or self.rp
        _, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": "openid",
            "state": "st-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return params

    def token(self, data: dict[str, str], *, auth: bool = True, **kwargs: Any) -> Any:
        headers = self.flow.auth_headers(self.rp) if auth else {}
        headers.update(kwargs.pop("headers", {}))
        return self.flow.client.post("/token", data=data, headers=headers, **kwargs)


@dataclass(frozen=True)
class Expect:
    """``json``: that OAuth error in a JSON body; ``redirect``: at the registered redirect URI; ``page``: the
    French page (with that HTTP status)."""

    kind: str
    error: str | None = None
    status: int | None = None


def JSON(error: str, status: int | None = None) -> Expect:
    return Expect("json", error, status)


def REDIRECT(error: str) -> Expect:
    return Expect("redirect", error)


def PAGE(status: int = 400) -> Expect:
    return Expect("page", status=status)


Case = tuple[str, Callable[[Ctx], Any], Expect]

CASES: list[Case] = [
    # --- /authorize: client and redirect URI first, a page when they are wrong --------------------------------
    ("authorize-no-parameters", lambda c: c.authorize(), PAGE()),
    ("authorize-client-id-only", lambda c: c.authorize(client_id=c.rp.client_id), PAGE()),
    ("authorize-unknown-client", lambda c: c.authorize(**c.good(client_id="nobody")), PAGE()),
    ("authorize-empty-client-id", lambda c: c.authorize(**c.good(client_id="")), PAGE()),
    ("authorize-huge-client-id", lambda c: c.authorize(**c.good(client_id="x" * 5000)), PAGE()),
    ("authorize-control-chars-client-id", lambda c: c.authorize(**c.good(client_id="a\x00b\nc")), PAGE()),
    ("authorize-javascript-redirect", lambda c: c.authorize(**c.good(redirect_uri="javascript:alert(1)")), PAGE()),
    ("authorize-relative-redirect", lambda c: c.authorize(**c.good(redirect_uri="/callback")), PAGE()),
    ("authorize-missing-redirect", lambda c: c.authorize(**c.good(redirect_uri=None)), PAGE()),
    (
        "authorize-two-redirect-uris",
        lambda c: c.flow.client.get("/authorize?" + urlencode(c.good()) + "&redirect_uri=" + RP_REDIRECT),
        PAGE(),
    ),
    ("authorize-post-unknown-client", lambda c: c.flow.client.post("/authorize", data=c.good(client_id="x")), PAGE()),
    # --- /authorize: errors at the registered redirect URI ----------------------------------------------------
    (
        "authorize-no-response-type",
        lambda c: c.authorize(**c.good(response_type=None)),
        REDIRECT("unsupported_response_type"),
    ),
    (
        "authorize-implicit",
        lambda c: c.authorize(**c.good(response_type="token")),
        REDIRECT("unsupported_response_type"),
    ),
    (
        "authorize-hybrid",
        lambda c: c.authorize(**c.good(response_type="code id_token")),
        REDIRECT("unsupported_response_type"),
    ),
    ("authorize-no-scope", lambda c: c.authorize(**c.good(scope=None)), REDIRECT("invalid_scope")),
    ("authorize-no-openid", lambda c: c.authorize(**c.good(scope="email")), REDIRECT("invalid_scope")),
    (
        "authorize-two-scopes",
        lambda c: c.flow.client.get("/authorize?" + urlencode(c.good()) + "&scope=openid"),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-pkce-plain",
        lambda c: c.authorize(**c.good(code_challenge_method="plain")),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-pkce-unknown-method",
        lambda c: c.authorize(**c.good(code_challenge_method="S512")),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-pkce-huge-challenge",
        lambda c: c.authorize(**c.good(code_challenge="a" * 200)),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-public-without-pkce",
        lambda c: c.authorize(**c.good(c.public, code_challenge=None, code_challenge_method=None)),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-prompt-none-and-login",
        lambda c: c.authorize(**c.good(prompt="none login")),
        REDIRECT("invalid_request"),
    ),
    ("authorize-prompt-none-signed-out", lambda c: c.authorize(**c.good(prompt="none")), REDIRECT("login_required")),
    (
        "authorize-max-age-text",
        lambda c: c.authorize(**c.good(max_age="abc", prompt="none")),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-max-age-huge",
        lambda c: c.authorize(**c.good(max_age="9" * 30, prompt="none")),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-response-mode-unknown",
        lambda c: c.authorize(**c.good(response_mode="web_message")),
        REDIRECT("invalid_request"),
    ),
    (
        "authorize-request-object",
        lambda c: c.authorize(**c.good(request="e30.e30.")),
        REDIRECT("request_not_supported"),
    ),
    (
        "authorize-request-uri",
        lambda c: c.authorize(**c.good(request_uri="https://rp.example.fr/r")),
        REDIRECT("request_uri_not_supported"),
    ),
    (
        "authorize-garbage-id-token-hint",
        lambda c: c.authorize(**c.good(id_token_hint="a.b.c", prompt="none")),
        REDIRECT("invalid_request"),
    ),
    ("authorize-resume-empty-tx", lambda c: c.flow.client.get("/authorize/resume?tx="), PAGE()),
    ("authorize-resume-huge-tx", lambda c: c.flow.client.get("/authorize/resume?tx=" + "x" * 3000), PAGE()),
    ("consent-unknown-tx", lambda c: c.flow.client.get("/authorize/consent?tx=nope"), PAGE()),
    # --- /token ---------------------------------------------------------------------------------------------
    ("token-no-grant-type", lambda c: c.token({}), JSON("unsupported_grant_type")),
    (
        "token-password-grant",
        lambda c: c.token({"grant_type": "password", "username": "a", "password": "b"}),
        JSON("unsupported_grant_type"),
    ),
    (
        # The grant exists (ministry services), but this client is not registered for it.
        "token-client-credentials",
        lambda c: c.token({"grant_type": "client_credentials"}),
        JSON("unauthorized_client"),
    ),
    (
        "token-json-body",
        lambda c: c.flow.client.post(
            "/token", json={"grant_type": "authorization_code"}, headers=c.flow.auth_headers(c.rp)
        ),
        JSON("unsupported_grant_type"),
    ),
    (
        "token-no-client-auth",
        lambda c: c.token({"grant_type": "authorization_code", "code": "x"}, auth=False),
        JSON("invalid_client"),
    ),
    (
        "token-wrong-secret",
        lambda c: c.token(
            {"grant_type": "authorization_code", "code": "x"},
            auth=False,
            headers={"Authorization": "Basic " + base64.b64encode(f"{c.rp.client_id}:wrong".encode()).decode()},
        ),
        JSON("invalid_client", 401),
    ),
    (
        "token-garbage-basic",
        lambda c: c.token(
            {"grant_type": "authorization_code", "code": "x"},
            auth=False,
            headers={"Authorization": "Basic !!!not-base64"},
        ),
        JSON("invalid_client"),
    ),
    (
        "token-unknown-client-post",
        lambda c: c.token(
            {"grant_type": "authorization_code", "code": "x", "client_id": "nobody", "client_secret": "s"}, auth=False
        ),
        JSON("invalid_client"),
    ),
    ("token-missing-code", lambda c: c.token({"grant_type": "authorization_code"}), JSON("invalid_request")),
    (
        "token-garbage-code",
        lambda c: c.token({"grant_type": "authorization_code", "code": "nope", "redirect_uri": RP_REDIRECT}),
        JSON("invalid_grant"),
    ),
    (
        "token-huge-code",
        lambda c: c.token({"grant_type": "authorization_code", "code": "c" * 10000}),
        JSON("invalid_grant"),
    ),
    ("token-missing-refresh-token", lambda c: c.token({"grant_type": "refresh_token"}), JSON("invalid_request")),
    (
        "token-garbage-refresh-token",
        lambda c: c.token({"grant_type": "refresh_token", "refresh_token": "nope"}),
        JSON("invalid_grant"),
    ),
    (
        "token-garbage-assertion",
        lambda c: c.token(
            {
                "grant_type": "authorization_code",
                "code": "x",
                "client_assertion": "not.a.jwt",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
            auth=False,
        ),
        JSON("invalid_client"),
    ),
    (
        "token-assertion-unsigned",
        lambda c: c.token(
            {
                "grant_type": "authorization_code",
                "code": "x",
                "client_assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiaXNzIjoieCJ9.",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            },
            auth=False,
        ),
        JSON("invalid_client"),
    ),
    ("token-get", lambda c: c.flow.client.get("/token"), PAGE(405)),
    # --- /userinfo --------------------------------------------------------------------------------------------
    (
        "userinfo-basic-auth",
        lambda c: c.flow.client.get("/userinfo", headers={"Authorization": "Basic eDp5"}),
        JSON("unsupported_token_type", 401),
    ),
    (
        "userinfo-empty-bearer",
        lambda c: c.flow.client.get("/userinfo", headers={"Authorization": "Bearer"}),
        JSON("unsupported_token_type", 401),
    ),
    (
        "userinfo-garbage-token",
        lambda c: c.flow.client.get("/userinfo", headers={"Authorization": "Bearer x"}),
        JSON("invalid_token", 401),
    ),
    (
        "userinfo-huge-token",
        lambda c: c.flow.client.post("/userinfo", data={"access_token": "t" * 5000}),
        JSON("invalid_token", 401),
    ),
    # --- /introspect and /revoke ------------------------------------------------------------------------------
    ("introspect-no-auth", lambda c: c.flow.client.post("/introspect", data={"token": "x"}), JSON("invalid_client")),
    (
        "introspect-no-token",
        lambda c: c.flow.client.post("/introspect", data={}, headers=c.flow.auth_headers(c.rp)),
        JSON("invalid_request"),
    ),
    (
        "introspect-public-client",
        lambda c: c.flow.client.post("/introspect", data={"token": "x", "client_id": c.public.client_id}),
        JSON("invalid_client"),
    ),
    ("revoke-no-auth", lambda c: c.flow.client.post("/revoke", data={"token": "x"}), JSON("invalid_client")),
    (
        "revoke-no-token",
        lambda c: c.flow.client.post("/revoke", data={}, headers=c.flow.auth_headers(c.rp)),
        JSON("invalid_request"),
    ),
    # --- /logout/end ------------------------------------------------------------------------------------------
    ("logout-garbage-hint", lambda c: c.flow.client.get("/logout/end?id_token_hint=a.b.c"), PAGE()),
    ("logout-unknown-client", lambda c: c.flow.client.get("/logout/end?client_id=nobody"), PAGE()),
    (
        "logout-redirect-without-client",
        lambda c: c.flow.client.get("/logout/end?" + urlencode({"post_logout_redirect_uri": RP_LOGOUT_REDIRECT})),
        PAGE(),
    ),
    (
        "logout-unregistered-redirect",
        lambda c: c.flow.client.get(
            "/logout/end?"
            + urlencode({"client_id": c.rp.client_id, "post_logout_redirect_uri": "https://evil.example/"})
        ),
        PAGE(),
    ),
    ("logout-two-states", lambda c: c.flow.client.get("/logout/end?state=a&state=b"), PAGE()),
    ("logout-continue-unknown", lambda c: c.flow.client.get("/logout/end/continue?req=nope"), PAGE()),
    ("logout-confirm-without-csrf", lambda c: c.flow.client.post("/logout/end/confirm?req=nope"), PAGE()),
    # --- /register --------------------------------------------------------------------------------------------
    (
        "register-no-token",
        lambda c: c.flow.client.post("/register", json={"redirect_uris": [RP_REDIRECT]}),
        JSON("invalid_token", 401),
    ),
    (
        "register-form-body",
        lambda c: c.flow.client.post(
            "/register", data={"redirect_uris": RP_REDIRECT}, headers={"Authorization": f"Bearer {REGISTRATION_TOKEN}"}
        ),
        JSON("invalid_request"),
    ),
    (
        "register-json-array",
        lambda c: c.flow.client.post(
            "/register", json=[RP_REDIRECT], headers={"Authorization": f"Bearer {REGISTRATION_TOKEN}"}
        ),
        JSON("invalid_request"),
    ),
    (
        "register-wrong-types",
        lambda c: c.flow.client.post(
            "/register",
            json={"redirect_uris": [RP_REDIRECT], "client_name": ["x"], "scope": 3},
            headers={"Authorization": f"Bearer {REGISTRATION_TOKEN}"},
        ),
        JSON("invalid_client_metadata"),
    ),
    # --- discovery --------------------------------------------------------------------------------------------
    ("discovery-post", lambda c: c.flow.client.post("/.well-known/openid-configuration"), PAGE(405)),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 40
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.fixture
def ctx(app, flow, rp):
    return Ctx(flow, rp, make_client(app, token_endpoint_auth_method="none"))


@pytest.mark.parametrize(("name", "send", "expect"), CASES, ids=[name for name, _, _ in CASES])
def test_malformed_request(ctx, name, send, expect):
    response = send(ctx)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    location = response.headers.get("Location", "")
    if expect.kind == "redirect":
        assert response.status_code == 302
        assert location.startswith(RP_REDIRECT + "?"), location
        query = query_of(location)
        assert query["error"] == expect.error
        assert query["state"] == "st-1" and query["iss"] == "http://localhost"
    elif expect.kind == "json":
        assert response.is_json, response.get_data(as_text=True)[:300]
        assert response.get_json()["error"] == expect.error
        if expect.status:
            assert response.status_code == expect.status
        assert not location
    else:
        assert response.status_code == expect.status
        assert not location, "never a redirect"
        page = response.get_data(as_text=True)
        assert '<html lang="fr">' in page
