"""FranceConnect's rules on the authorization request, and where its errors go."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fc_dev_provider.helpers import CLIENT_A, FcActions, query_of, random_value


def _callback_error(fc: FcActions, **overrides: Any) -> dict[str, str]:
    response = fc.authorize(**overrides)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(CLIENT_A["redirect_uris"][0] + "?"), location
    return query_of(response)


@pytest.mark.parametrize("name", ["state", "nonce"])
@pytest.mark.parametrize("value", [None, "", "x" * 31])
def test_state_and_nonce_are_required_and_at_least_32_characters(fc: FcActions, name: str, value: str | None) -> None:
    error = _callback_error(fc, **{name: value})
    assert error["error"] == "invalid_request"
    assert name in error["error_description"]
    assert "code" not in error


def test_short_state_is_echoed_with_the_error(fc: FcActions) -> None:
    error = _callback_error(fc, state="court")
    assert error["state"] == "court"


def test_32_characters_are_enough(fc: FcActions) -> None:
    callback, _ = fc.login(state=random_value(32), nonce=random_value(32))
    assert "code" in callback


@pytest.mark.parametrize("acr_values", ["eidas2", "eidas3", "eidas1 eidas2", "inconnu"])
def test_other_acr_values_are_refused_with_invalid_acr(fc: FcActions, acr_values: str) -> None:
    error = _callback_error(fc, acr_values=acr_values)
    assert error["error"] == "invalid_acr"
    assert "state" in error


def test_missing_acr_values_is_invalid_request(fc: FcActions) -> None:
    assert _callback_error(fc, acr_values=None)["error"] == "invalid_request"


@pytest.mark.parametrize("scope", ["given_name family_name", "openid identite_pivot telephone"])
def test_scope_must_hold_openid_and_known_scopes_only(fc: FcActions, scope: str) -> None:
    assert _callback_error(fc, scope=scope)["error"] == "invalid_scope"


def test_only_the_code_flow(fc: FcActions) -> None:
    assert _callback_error(fc, response_type="id_token")["error"] == "unsupported_response_type"


def test_prompt_none_cannot_be_satisfied(fc: FcActions) -> None:
    # No single sign-on session: every login goes through the citizen list.
    assert _callback_error(fc, prompt="none")["error"] == "login_required"


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://attacker.example/callback"},
        {"redirect_uri": CLIENT_A["redirect_uris"][0] + "/extra"},
        {"redirect_uri": None},
        {"client_id": "inconnu"},
        {"client_id": None},
    ],
)
def test_no_redirect_to_an_unverified_address(fc: FcActions, overrides: dict[str, Any]) -> None:
    response = fc.authorize(**overrides)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert "Demande invalide" in response.get_data(as_text=True)


def test_repeated_parameters_are_refused_on_a_page(fc: FcActions) -> None:
    params = fc.authorization_params()
    query = urlencode([*params.items(), ("state", random_value())])
    response = fc.client.get(f"/api/v2/authorize?{query}")
    assert response.status_code == 400
    assert "Location" not in response.headers
