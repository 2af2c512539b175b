"""Each fault of the scenario file, observed as a relying party would observe it."""

from __future__ import annotations

import time

import pytest
from joserfc.errors import BadSignatureError, JoseError

from tests.fc_dev_provider.helpers import CLIENT_A, FcActions


def test_slow_token(fc: FcActions) -> None:
    callback, _ = fc.login(scenario="token-lent")
    started = time.monotonic()
    response = fc.token(callback["code"])
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_slow_userinfo(fc: FcActions) -> None:
    tokens = fc.tokens(scenario="userinfo-lent")
    started = time.monotonic()
    response = fc.userinfo(tokens.access_token)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_token_error_status(fc: FcActions) -> None:
    callback, _ = fc.login(scenario="token-500")
    response = fc.token(callback["code"])
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert "id_token" not in response.get_json()


def test_userinfo_error_status(fc: FcActions) -> None:
    tokens = fc.tokens(scenario="userinfo-503")
    response = fc.userinfo(tokens.access_token)
    assert response.status_code == 503
    assert response.get_json()["error"] == "temporarily_unavailable"


def test_missing_claim(fc: FcActions) -> None:
    tokens = fc.tokens(scenario="sans-date")
    claims = fc.userinfo_claims(tokens.access_token)
    assert "birthdate" not in claims
    assert claims["family_name"] == "JULLIEN"


def test_callback_error_instead_of_a_code(fc: FcActions) -> None:
    params = fc.authorization_params()
    page_url, page = fc.login_page(**params)
    response = fc.answer(page_url, page, citizen="claire-jullien", scenario="refus")
    location = response.headers["Location"]
    assert location.startswith(CLIENT_A["redirect_uris"][0] + "?")
    assert "code=" not in location
    assert "error=access_denied" in location
    assert "error_description=User+auth+aborted" in location
    assert f"state={params['state']}" in location


def test_userinfo_signed_by_another_key_under_the_same_kid(fc: FcActions) -> None:
    tokens = fc.tokens(scenario="userinfo-mauvaise-signature")
    response = fc.userinfo(tokens.access_token)
    assert response.status_code == 200
    with pytest.raises(BadSignatureError):
        fc.verify(response.get_data(as_text=True))


def test_userinfo_signed_by_an_unknown_kid(fc: FcActions) -> None:
    tokens = fc.tokens(scenario="userinfo-cle-inconnue")
    body = fc.userinfo(tokens.access_token).get_data(as_text=True)
    with pytest.raises((JoseError, ValueError)):
        fc.verify(body)


def test_id_token_signed_by_another_key(fc: FcActions) -> None:
    callback, _ = fc.login(scenario="id-token-mauvaise-signature")
    response = fc.token(callback["code"])
    assert response.status_code == 200
    with pytest.raises(BadSignatureError):
        fc.verify(response.get_json()["id_token"])


def test_scenario_keyed_by_citizen_applies_by_default(fc: FcActions) -> None:
    tokens = fc.tokens("thomas-girard")
    assert fc.userinfo(tokens.access_token).status_code == 503


def test_choice_on_the_login_page_overrides_the_citizen_default(fc: FcActions) -> None:
    tokens = fc.tokens("thomas-girard", scenario="aucun")
    assert fc.userinfo(tokens.access_token).status_code == 200
    tokens = fc.tokens("thomas-girard", scenario="sans-date")
    assert "birthdate" not in fc.userinfo_claims(tokens.access_token)


def test_unknown_scenario_is_refused(fc: FcActions) -> None:
    page_url, page = fc.login_page()
    response = fc.answer(page_url, page, citizen="claire-jullien", scenario="inexistant")
    assert response.status_code == 400
    assert "Location" not in response.headers
