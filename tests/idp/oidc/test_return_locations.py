"""Return locations of the OpenID Provider (``redirect_uri``, ``post_logout_redirect_uri``) are compared exactly
with the client's registration: no hostile value leads a browser anywhere, and none reaches a 500."""

from __future__ import annotations

import pytest

from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin
from tests.oidc_helpers import ISSUER, RP_LOGOUT_REDIRECT, RP_REDIRECT

pytest_plugins = ["tests.oidc_fixtures"]

#: Variations of the registered URIs: near misses that a prefix or a lenient parser would accept.
NEAR_MISSES = (
    RP_REDIRECT + "/",
    RP_REDIRECT + "?next=//evil.example",
    RP_REDIRECT + "#x",
    RP_REDIRECT + "/../../evil",
    RP_REDIRECT.replace("https://", "https://evil.example@"),
    RP_REDIRECT.replace("rp.example.fr", "rp.example.fr.evil.example"),
    RP_REDIRECT.upper(),
    RP_REDIRECT + "\t",
    RP_REDIRECT + "%0a",
)


@pytest.mark.parametrize("name", ["redirect_uri", "post_logout_redirect_uri"])
def test_no_return_location_but_the_registered_one(flow, rp, name) -> None:
    for value in (*HOSTILE_LOCATIONS, *NEAR_MISSES):
        if name == "redirect_uri":
            response, _, _ = flow.start(rp, redirect_uri=value)
            url = f"{ISSUER}/authorize"
        else:
            response = flow.client.get(
                "/logout/end", query_string={"client_id": rp.client_id, name: value, "state": "s"}
            )
            url = f"{ISSUER}/logout/end"
        assert_stays_on_origin(response, url, value=value)
        if value:  # an empty one is no return location: the logout confirmation page
            assert response.status_code == 400, (value, response.status_code)
    assert RP_LOGOUT_REDIRECT  # the registered ones work: tests/idp/oidc/test_authorize.py, test_logout.py
