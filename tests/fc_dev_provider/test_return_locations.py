"""The development provider's return locations (``redirect_uri`` of the authorization request,
``post_logout_redirect_uri`` of session/end) are compared exactly with the client's registration: no hostile value
leads a browser anywhere, and none reaches a 500."""

from __future__ import annotations

from tests.fc_dev_provider.helpers import CLIENT_A, ISSUER, FcActions, random_value
from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin

REGISTERED = CLIENT_A["redirect_uris"][0]
NEAR_MISSES = (REGISTERED + "/", REGISTERED + "?x=1", REGISTERED + "\t", REGISTERED.upper(), REGISTERED + "%0a")


def test_no_redirect_uri_but_the_registered_one(fc: FcActions) -> None:
    for value in (*HOSTILE_LOCATIONS, *NEAR_MISSES):
        response = fc.authorize(redirect_uri=value)
        assert_stays_on_origin(response, f"{ISSUER}/authorize", value=value)
        assert response.status_code == 400, (value, response.status_code)


def test_no_post_logout_redirect_uri_but_the_registered_one(fc: FcActions) -> None:
    tokens = fc.tokens(rp=CLIENT_A)
    for value in (*HOSTILE_LOCATIONS, *NEAR_MISSES):
        query = {"id_token_hint": tokens.raw_id_token, "state": random_value(), "post_logout_redirect_uri": value}
        response = fc.client.get("/api/v2/session/end", query_string=query)
        assert_stays_on_origin(response, f"{ISSUER}/session/end", value=value)
        if value:  # an empty one is no return location: the logged-out page
            assert response.status_code == 400, (value, response.status_code)
