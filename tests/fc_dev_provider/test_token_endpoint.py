"""Codes (single use, 30 s, bound to client and redirect_uri), access tokens (60 s), client authentication."""

from __future__ import annotations

import pytest

from tests.fc_dev_provider.helpers import CLIENT_A, CLIENT_B, FakeClock, FcActions


def test_code_is_single_use(fc: FcActions) -> None:
    callback, _ = fc.login()
    assert fc.token(callback["code"]).status_code == 200
    second = fc.token(callback["code"])
    assert second.status_code == 400
    assert second.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("elapsed", "status"), [(29, 200), (30, 400), (31, 400)])
def test_code_lives_30_seconds(fc: FcActions, clock: FakeClock, elapsed: int, status: int) -> None:
    callback, _ = fc.login()
    clock.advance(elapsed)
    response = fc.token(callback["code"])
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(fc: FcActions) -> None:
    callback, _ = fc.login(rp=CLIENT_A)
    response = fc.token(callback["code"], rp=CLIENT_B)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_redirect_uri_must_be_the_one_of_the_request(fc: FcActions) -> None:
    callback, _ = fc.login()
    response = fc.token(callback["code"], redirect_uri="https://service-a.example/autre")
    assert response.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("method", ["basic", "post"])
def test_wrong_client_secret_is_invalid_client(fc: FcActions, method: str) -> None:
    callback, _ = fc.login()
    response = fc.token(callback["code"], method=method, secret="pas-le-bon-secret-0123456789")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_unknown_client_is_invalid_client(fc: FcActions) -> None:
    callback, _ = fc.login()
    form = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": CLIENT_A["redirect_uris"][0]}
    response = fc.client.post("/api/v2/token", data=form, auth=("inconnu", "secret-inconnu-0123456789"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_missing_client_authentication_is_invalid_client(fc: FcActions) -> None:
    callback, _ = fc.login()
    form = {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "redirect_uri": CLIENT_A["redirect_uris"][0],
        "client_id": CLIENT_A["client_id"],
    }
    response = fc.client.post("/api/v2/token", data=form)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(("elapsed", "status"), [(59, 200), (60, 401), (61, 401)])
def test_access_token_lives_60_seconds(fc: FcActions, clock: FakeClock, elapsed: int, status: int) -> None:
    tokens = fc.tokens()
    clock.advance(elapsed)
    response = fc.userinfo(tokens.access_token)
    assert response.status_code == status
    if status == 401:
        assert response.get_json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("authorization", "status", "error"),
    [
        (None, 401, "missing_authorization"),
        ("Bearer inconnu", 401, "invalid_token"),
        ("Bearer", 401, "unsupported_token_type"),
        ("Basic abc", 401, "unsupported_token_type"),
    ],
)
def test_userinfo_without_a_valid_token(fc: FcActions, authorization: str | None, status: int, error: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = fc.client.get("/api/v2/userinfo", headers=headers)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
