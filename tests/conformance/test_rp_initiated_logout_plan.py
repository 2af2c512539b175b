"""oidcc-rp-initiated-logout-certification-test-plan ("RP-Initiated OP"): one test per module, named after it.

Every module signs the voter in (authorization state of 128 characters), sends the browser to the
end_session_endpoint with the module's parameters (by default id_token_hint, post_logout_redirect_uri, state),
then checks the outcome: a redirect to the registered post_logout_redirect_uri with exactly the state,
or, when the request cannot be trusted, no redirect at all (an error page or a confirmation, screenshots in
the suite).
After a logout, a ``prompt=none`` request must fail with an error that asks for the voter.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.test import TestResponse

from tests.conformance.support import HTTPS_ISSUER, Suite, Tokens, https_url, random_state, with_alg_none
from tests.helpers import VoterFactory, csrf_of
from tests.oidc_helpers import ISSUER, RP, RP_LOGOUT_REDIRECT, Flow, query_of

CONFIRMATION = "Voulez-vous vous déconnecter"
LOGGED_OUT = "Vous êtes déconnecté(e)"
INVALID_LOGOUT = "Demande de déconnexion invalide"


def signed_in(suite: Suite, rp: RP, voters: VoterFactory) -> Tokens:
    return suite.tokens(rp, voters.create(), state=random_state(128))


def end_session(suite: Suite, **params: str) -> TestResponse:
    return suite.client.get("/logout/end?" + urlencode(params))


def post_logout_redirect(response: TestResponse) -> dict[str, str]:
    """The parameters the client's post_logout_redirect_uri receives: nothing but the state
    (CheckForUnexpectedParametersInPostLogoutRedirect)."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    location = response.headers["Location"]
    assert location.split("?")[0] == RP_LOGOUT_REDIRECT
    params = query_of(location)
    assert set(params) <= {"state"}, params
    return params


def confirm(suite: Suite, page: TestResponse) -> TestResponse:
    """The voter confirms the logout on the provider's page."""
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and CONFIRMATION in body
    match = re.search(r'<form method="post" action="([^"]+)"', body)
    assert match
    return suite.client.post(html.unescape(match.group(1)), data={"csrf_token": csrf_of(page)})


def assert_logged_out_page(response: TestResponse) -> None:
    """ExpectSuccessfulLogoutPage: the provider's own 'you are logged out' page, no redirect."""
    assert response.status_code == 200 and "Location" not in response.headers
    assert LOGGED_OUT in response.get_data(as_text=True)


def assert_not_redirected(response: TestResponse) -> None:
    """The module's placeholder: no redirect to any post_logout_redirect_uri; an error page or a
    confirmation asking the voter."""
    assert "Location" not in response.headers, response.headers.get("Location")
    body = response.get_data(as_text=True)
    assert (response.status_code == 400 and INVALID_LOGOUT in body) or (
        response.status_code == 200 and CONFIRMATION in body
    ), response.status_code


def assert_still_signed_in(suite: Suite, rp: RP) -> None:
    """An untrusted logout request ends nothing by itself: prompt=none still gets a code."""
    params, _ = suite.request(rp, prompt="none")
    suite.callback(suite.send(params), rp, params)


def test_oidcc_rp_initiated_logout_discovery_endpoint_verification(make_app: Callable[..., Flask], flow: Flow) -> None:
    doc = make_app(PUBLIC_URL=HTTPS_ISSUER).test_client().get("/.well-known/openid-configuration").get_json()
    # CheckDiscEndpointAllEndpointsAreHttps, CheckDiscEndSessionEndpoint.
    assert all(https_url(v) for k, v in doc.items() if k.endswith(("_endpoint", "_uri")))
    assert https_url(doc["end_session_endpoint"])
    assert urlsplit(doc["end_session_endpoint"]).path == "/logout/end"


def test_oidcc_rp_initiated_logout(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    state = random_state(128)
    response = end_session(
        suite, id_token_hint=tokens.id_token, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state=state
    )
    assert post_logout_redirect(response) == {"state": state}  # CheckPostLogoutState
    suite.prompt_none(rp)


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    response = end_session(
        suite,
        id_token_hint=tokens.id_token,
        post_logout_redirect_uri="https://rp.example.fr/non-enregistree",
        state=random_state(),
    )
    assert_not_redirected(response)
    assert_still_signed_in(suite, rp)


def test_oidcc_rp_initiated_logout_modified_id_token_hint(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    response = end_session(
        suite,
        id_token_hint=with_alg_none(tokens.id_token),  # ChangeIdTokenToAlgNone
        post_logout_redirect_uri=RP_LOGOUT_REDIRECT,
        state=random_state(),
    )
    assert_not_redirected(response)
    assert_still_signed_in(suite, rp)


def test_oidcc_rp_initiated_logout_no_id_token_hint(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    signed_in(suite, rp, voters)
    response = end_session(suite, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state=random_state())
    assert_not_redirected(response)
    assert_still_signed_in(suite, rp)


def test_oidcc_rp_initiated_logout_no_params(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    signed_in(suite, rp, voters)
    page = end_session(suite)
    assert "Location" not in page.headers
    assert_logged_out_page(confirm(suite, page))
    suite.prompt_none(rp)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    assert_logged_out_page(end_session(suite, id_token_hint=tokens.id_token, state=random_state()))
    suite.prompt_none(rp)


def test_oidcc_rp_initiated_logout_no_state(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    response = end_session(suite, id_token_hint=tokens.id_token, post_logout_redirect_uri=RP_LOGOUT_REDIRECT)
    assert post_logout_redirect(response) == {}  # CheckNoPostLogoutState
    assert response.headers["Location"] == RP_LOGOUT_REDIRECT
    suite.prompt_none(rp)


def test_oidcc_rp_initiated_logout_only_state(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    signed_in(suite, rp, voters)
    page = end_session(suite, state=random_state())
    assert "Location" not in page.headers
    assert_logged_out_page(confirm(suite, page))
    suite.prompt_none(rp)


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(
    suite: Suite, rp: RP, voters: VoterFactory
) -> None:
    tokens = signed_in(suite, rp, voters)
    response = end_session(
        suite,
        id_token_hint=tokens.id_token,
        post_logout_redirect_uri=RP_LOGOUT_REDIRECT + "?foo=bar",
        state=random_state(),
    )
    assert_not_redirected(response)
    assert_still_signed_in(suite, rp)


def test_oidcc_rp_initiated_logout_bad_id_token_hint(suite: Suite, rp: RP, voters: VoterFactory) -> None:
    tokens = signed_in(suite, rp, voters)
    # GenerateFakeIdTokenClaims, SignFakeIdToken: the right claims, signed by a key of the suite, not
    # one of the provider's.
    key = ECKey.generate_key("P-256", parameters={"kid": "suite-key"})
    now = int(time.time())
    fake = jwt.encode(
        {"alg": "ES256", "kid": "suite-key", "typ": "JWT"},
        {
            "iss": ISSUER,
            "aud": rp.client_id,
            "sub": tokens.id_claims["sub"],
            "sid": tokens.id_claims["sid"],
            "iat": now,
            "exp": now + 300,
        },
        key,
    )
    response = end_session(suite, id_token_hint=fake, post_logout_redirect_uri=RP_LOGOUT_REDIRECT, state=random_state())
    assert_not_redirected(response)
    assert_still_signed_in(suite, rp)
