"""session/end: back to a registered post_logout_redirect_uri with state; else a page, never a redirect."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.fc_dev_provider.helpers import CLIENT_A, CLIENT_B, FakeClock, FcActions, random_value


def _end(fc: FcActions, **params: Any) -> Any:
    query = {key: value for key, value in params.items() if value is not None}
    return fc.client.get("/api/v2/session/end", query_string=query)


def test_logout_returns_to_the_registered_uri_with_state(fc: FcActions) -> None:
    tokens = fc.tokens()
    state = random_value()
    response = _end(
        fc,
        id_token_hint=tokens.raw_id_token,
        state=state,
        post_logout_redirect_uri=CLIENT_A["post_logout_redirect_uris"][0],
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{CLIENT_A['post_logout_redirect_uris'][0]}?state={state}"


def test_an_expired_id_token_still_logs_out(fc: FcActions, clock: FakeClock) -> None:
    tokens = fc.tokens()
    clock.advance(3600)
    response = _end(
        fc,
        id_token_hint=tokens.raw_id_token,
        state=random_value(),
        post_logout_redirect_uri=CLIENT_A["post_logout_redirect_uris"][0],
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "uri",
    ["https://attacker.example/logged-out", CLIENT_B["post_logout_redirect_uris"][0], CLIENT_A["redirect_uris"][0]],
)
def test_unregistered_post_logout_uri_is_an_error_page(fc: FcActions, uri: str) -> None:
    tokens = fc.tokens(rp=CLIENT_A)
    response = _end(fc, id_token_hint=tokens.raw_id_token, state=random_value(), post_logout_redirect_uri=uri)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "post_logout_redirect_uri" in response.get_data(as_text=True)


def _forged_id_token(fc: FcActions, tokens: Any) -> str:
    stranger = ECKey.generate_key("P-256")
    kid = fc.jwks().keys[0].kid
    return jwt.encode({"alg": "ES256", "kid": kid}, tokens.id_token, stranger, algorithms=["ES256"])


@pytest.mark.parametrize("case", ["no_hint", "no_state", "forged_hint", "garbage_hint"])
def test_invalid_logout_requests_are_error_pages(fc: FcActions, case: str) -> None:
    tokens = fc.tokens()
    params: dict[str, Any] = {
        "id_token_hint": tokens.raw_id_token,
        "state": random_value(),
        "post_logout_redirect_uri": CLIENT_A["post_logout_redirect_uris"][0],
    }
    if case == "no_hint":
        params["id_token_hint"] = None
    elif case == "no_state":
        params["state"] = None
    elif case == "forged_hint":
        params["id_token_hint"] = _forged_id_token(fc, tokens)
    else:
        params["id_token_hint"] = "abc.def.ghi"
    response = _end(fc, **params)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_logout_without_post_logout_uri_shows_a_page(fc: FcActions) -> None:
    tokens = fc.tokens()
    response = _end(fc, id_token_hint=tokens.raw_id_token, state=random_value())
    assert response.status_code == 200
    assert "Vous êtes déconnecté" in response.get_data(as_text=True)
