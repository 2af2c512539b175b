"""The authorization endpoint: client and exact redirect URI first (a French page, never a redirect, when they are
wrong), the request kept server side across the sign-in screens, errors to the client with state and iss,
PKCE, response modes (conformance: oidcc-ensure-registered-redirect-uri, oidcc-response-type-missing,
oidcc-unsupported-response-type, oidcc-ensure-request-without-nonce-succeeds-for-code-flow,
oidcc-ensure-other-scope-order-succeeds, oidcc-ensure-request-with-unknown-parameter-succeeds,
oidcc-login-hint, oidcc-ui-locales, oidcc-response-mode-form-post)."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import pytest

from tests.oidc_helpers import (
    ISSUER,
    RP_REDIRECT,
    make_client,
    pending_next,
    query_of,
    shows_identifier_page,
    verify,
)

pytest_plugins = ["tests.oidc_fixtures"]


def assert_error_page(response, code=None):
    assert response.status_code == 400
    assert "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page
    if code:
        assert code in page
    return page


def test_unknown_client_gets_a_french_page(flow, rp):
    response, _, _ = flow.start(rp, client_id="inconnu")
    page = assert_error_page(response, "unknown_client")
    assert "Application inconnue" in page


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        RP_REDIRECT + "/",
        RP_REDIRECT + "?x=1",
        RP_REDIRECT.upper(),
        "https://rp.example.fr/callbac",
    ],
)
def test_redirect_uri_must_match_exactly(flow, rp, redirect_uri):
    response, _, _ = flow.start(rp, redirect_uri=redirect_uri)
    assert "Adresse de retour non reconnue" in assert_error_page(response, "invalid_redirect_uri")


def test_missing_redirect_uri_is_not_guessed(flow, rp):
    response, _, _ = flow.start(rp, redirect_uri=None)
    assert_error_page(response, "invalid_redirect_uri")


def test_disabled_client_gets_a_french_page(app, flow, rp):
    from idp.db import get_db
    from idp.oidc import clients

    with app.app_context(), get_db(app).transaction() as session:
        clients.disable(session, clients.find(session, rp.client_id))
    response, _, _ = flow.start(rp)
    assert_error_page(response, "unknown_client")


def test_signed_out_voter_is_shown_the_identifier_page_with_the_request_kept_server_side(flow, rp, voters):
    response, params, _ = flow.start(rp, login_hint="camille.testeur@ac-exemple.fr")
    # The identifier page is /authorize's own answer (no redirect to /login, one request fewer).
    assert shows_identifier_page(response)
    page = response.get_data(as_text=True)
    assert 'value="camille.testeur@ac-exemple.fr"' in page
    assert '<form method="post" action="/login" novalidate>' in page
    assert re.fullmatch(r"/authorize/resume\?tx=[\w-]+", pending_next(flow.client))
    assert "no-store" in response.headers["Cache-Control"]  # a page, never kept by a cache
    # Nothing of the request is written into the page: it is kept server-side under the transaction id.
    assert params["state"] not in page
    assert params["code_challenge"] not in page
    # « Afficher un autre CAPTCHA » (/login) keeps where the sign-in resumes.
    resume = pending_next(flow.client)
    another = flow.client.get("/login")
    assert shows_identifier_page(another) and pending_next(flow.client) == resume


def test_a_posted_authorization_request_shows_the_identifier_page_at_its_resumption(flow, rp, voters):
    params, _ = flow.request_params(rp)
    kept = flow.client.post("/authorize", data=params)
    assert kept.status_code == 303 and kept.headers["Location"].startswith("/authorize/resume?tx=")
    page = flow.client.get(kept.headers["Location"])
    assert shows_identifier_page(page)
    assert pending_next(flow.client) == kept.headers["Location"]
    final = flow.follow_to_client(page, voters.create())
    assert query_of(final.headers["Location"])["state"] == params["state"]


def test_login_hint_is_prefilled_and_flow_completes(flow, rp, voters):
    voter = voters.create()
    authorization = flow.authorize(rp, voter, login_hint=voter.identifier)
    assert authorization.params["code"]


def test_success_echoes_state_and_iss(flow, rp, voters):
    authorization = flow.authorize(rp, voters.create(), state="état-123 & co")
    assert authorization.params["state"] == "état-123 & co"
    assert authorization.params["iss"] == ISSUER


def test_request_without_state_succeeds(flow, rp, voters):
    authorization = flow.authorize(rp, voters.create(), state=None)
    assert "state" not in authorization.params


def test_request_without_nonce_succeeds_for_code_flow(flow, rp, voters):
    body = flow.tokens(rp, voters.create(), nonce=None)
    assert "nonce" not in verify(flow.client, body["id_token"])


def test_unknown_parameters_and_scope_order_are_fine(flow, rp, voters):
    authorization = flow.authorize(rp, voters.create(), scope="email openid", extra="x", foo="bar")
    assert authorization.params["code"]


def test_unknown_scopes_are_ignored(flow, rp, voters):
    body = flow.tokens(rp, voters.create(), scope="openid phone address")
    assert body["scope"] == "openid"


def test_ui_locales_are_accepted(flow, rp, voters):
    voter = voters.create()
    assert flow.authorize(rp, voter, ui_locales="fr-FR fr").params["code"]
    assert flow.authorize(rp, voter, ui_locales="en de").params["code"]


def error_of(response):
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(RP_REDIRECT)
    return query_of(response.headers["Location"])


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": None}, "unsupported_response_type"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile email"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "unheard-of"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"registration": "{}"}, "registration_not_supported"),
        ({"id_token_hint": "not-a-jwt"}, "invalid_request"),
    ],
)
def test_errors_go_to_the_redirect_uri_with_state_and_iss(flow, rp, voters, extra, error):
    auth = flow.auth
    auth.login(voters.create().identifier)
    response, params, _ = flow.start(rp, **extra)
    query = error_of(response)
    assert query["error"] == error
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER


def test_public_client_must_use_pkce(app, flow, voters):
    rp = make_client(app, token_endpoint_auth_method="none")
    flow.auth.login(voters.create().identifier)
    response, _, _ = flow.start(rp, code_challenge=None, code_challenge_method=None)
    assert error_of(response)["error"] == "invalid_request"


def test_repeated_parameters_are_refused(flow, rp, voters):
    flow.auth.login(voters.create().identifier)
    params, _ = flow.request_params(rp)
    query = urlencode(params) + "&scope=openid+email"
    assert error_of(flow.client.get("/authorize?" + query))["error"] == "invalid_request"
    query = urlencode(params) + "&client_id=" + rp.client_id
    assert_error_page(flow.client.get("/authorize?" + query))


def test_form_post_response_mode(flow, rp, voters):
    flow.auth.login(voters.create().identifier)
    response, params, _ = flow.start(rp, response_mode="form_post")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'action="{RP_REDIRECT}"' in page
    assert f'name="state" value="{params["state"]}"' in page
    assert 'name="code" value="' in page and f'name="iss" value="{ISSUER}"' in page
    csp = response.headers["Content-Security-Policy"]
    assert "form-action https://rp.example.fr;" in csp
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in page
    assert "Continuer vers l'application" in page  # usable without JavaScript
    assert response.headers["Cache-Control"] == "no-store"


def test_form_post_errors_are_posted_too(flow, rp, voters):
    response, params, _ = flow.start(rp, response_mode="form_post", prompt="none")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="error" value="login_required"' in page
    assert f'name="state" value="{params["state"]}"' in page


def test_authorization_request_by_post(flow, rp, voters):
    voter = voters.create()
    params, verifier = flow.request_params(rp)
    response = flow.client.post("/authorize", data=params)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/authorize/resume"
    final = flow.follow_to_client(response, voter)
    query = query_of(final.headers["Location"])
    assert query["state"] == params["state"]
    from tests.oidc_helpers import Authorization

    assert flow.exchange(rp, Authorization(final, query, verifier, params)).status_code == 200


def test_post_with_an_unknown_client_gets_the_french_page(flow, rp):
    params, _ = flow.request_params(rp, client_id="inconnu")
    assert_error_page(flow.client.post("/authorize", data=params))


def test_a_transaction_yields_one_code(flow, rp, voters):
    """Its resume URL, replayed, yields no code: for a moment (COMPLETED_KEPT seconds) it sends the browser to the
    same authorization request again, a new request as the client could send (a form submitted twice, a form-post
    page refreshed), then it has expired (tests/idp/oidc/test_resume_in_place.py)."""
    voter = voters.create()
    response, params, _ = flow.start(rp)
    resume = pending_next(flow.client)
    final = flow.follow_to_client(response, voter)
    assert "code" in query_of(final.headers["Location"])
    replay = flow.client.get(resume)
    assert replay.status_code == 303 and replay.headers["Location"].startswith("/authorize?")
    assert query_of(replay.headers["Location"]) == params


def test_unknown_transaction(flow):
    response = flow.client.get("/authorize/resume?tx=nope")
    assert response.status_code == 400 and "Demande expirée" in response.get_data(as_text=True)


def test_login_page_may_post_to_the_client_origin_while_an_authorization_is_pending(flow, rp):
    login, _, _ = flow.start(rp)
    assert shows_identifier_page(login)
    assert "form-action 'self' https://rp.example.fr" in login.headers["Content-Security-Policy"]
    other = flow.client.get("/login")
    assert "https://rp.example.fr" in other.headers["Content-Security-Policy"]


def test_login_page_without_pending_authorization_keeps_the_strict_policy(client, flow):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert re.search(r"form-action 'self'\s*(;|$)", csp)
