"""Signing out of a session that came through the federation goes through the provider's end-session endpoint
(id_token_hint, state, registered post_logout_redirect_uri) and then on to where the IdP's sign-out was going."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers import DEFAULT_PASSWORD, AuthActions, VoterFactory, csrf_of
from tests.idp.federation.conftest import FcServer
from tests.idp.federation.helpers import LOGGED_OUT, FederationActions, claire, events, path_of, query_of
from tests.oidc_helpers import RP_LOGOUT_REDIRECT, Flow, install_keys, make_client


def _sign_out(client: FlaskClient) -> TestResponse:
    page = client.get("/logout")
    return client.post("/logout", data={"csrf_token": csrf_of(page)})


def _through_provider(
    answer: TestResponse, fc_server: FcServer, browser: requests.Session, client: FlaskClient
) -> TestResponse:
    """Follow the IdP's page to the provider's session/end and back; the IdP's final answer.

    The IdP answers with a page that moves on by itself (meta refresh) and by a link, not with a redirect: a
    redirect following another site's sign-out form would fall under that site's CSP ``form-action``."""
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    page = answer.get_data(as_text=True)
    match = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', page)
    assert match, page[:500]
    location = html.unescape(match.group(1))
    assert f'href="{match.group(1)}"' in page
    assert location.startswith(fc_server.issuer + "/session/end?")
    params = query_of(location)
    assert params["post_logout_redirect_uri"] == LOGGED_OUT
    assert len(params["state"]) >= 32
    assert params["id_token_hint"].count(".") == 2
    back = browser.get(location, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:300]
    assert back.headers["Location"].startswith(LOGGED_OUT + "?")
    assert query_of(back.headers["Location"])["state"] == params["state"]
    return client.get(path_of(back.headers["Location"]))


def test_password_after_match_then_sign_out(
    app: Flask,
    fc: FederationActions,
    voters: VoterFactory,
    client: FlaskClient,
    fc_server: FcServer,
    browser: requests.Session,
) -> None:
    voter = claire(voters)
    fc.identify("claire-jullien")
    page = client.get("/login/password")
    client.post("/login/password", data={"csrf_token": csrf_of(page), "password": DEFAULT_PASSWORD})
    assert client.get("/").status_code == 200
    logout_page = client.get("/logout")
    assert f"form-action 'self' {fc_server.base}" in logout_page.headers["Content-Security-Policy"]
    final = _through_provider(_sign_out(client), fc_server, browser, client)
    assert final.status_code == 303
    assert final.headers["Location"] == "/login"
    assert client.get("/").status_code == 302  # signed out of the IdP
    types = [e["type"] for e in events(app)]
    assert types[-2:] == ["federation.logout_started", "federation.logout_completed"]
    assert {e["subject"] for e in events(app) if e["type"].startswith("federation.logout")} == {voter.subject}
    # The state is single use: a second arrival shows the page, without redirect.
    again = client.get(path_of(LOGGED_OUT + "?state=" + "z" * 43))
    assert again.status_code == 200 and "FranceConnect" in again.get_data(as_text=True)


def test_password_sign_in_signs_out_locally(client: FlaskClient, voters: VoterFactory, auth: AuthActions) -> None:
    voter = voters.create()
    auth.login(voter.identifier)
    answer = _sign_out(client)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login"


def test_other_voter_after_match_does_not_inherit(
    fc: FederationActions, voters: VoterFactory, client: FlaskClient, auth: AuthActions
) -> None:
    """A match for Claire, then a password sign-in as somebody else: that session is not a federated one."""
    claire(voters)
    other = voters.create()
    fc.identify("claire-jullien")
    client.get("/login/restart")
    auth.login(other.identifier)
    assert _sign_out(client).headers["Location"] == "/login"


def test_rp_initiated_logout_goes_through_the_provider(
    make_app: Callable[..., Flask], voters: VoterFactory, fc_server: FcServer, browser: requests.Session
) -> None:
    """A portal's RP-initiated logout (/logout/end with its ID token) ends at the portal's post-logout URI, with its
    state, after the provider's end-session page."""
    app = make_app(FC_SIGN_IN_ENOUGH=True)
    install_keys(app)
    client = app.test_client()
    claire(voters)
    FederationActions(client, browser).identify("claire-jullien")
    rp = make_client(app)
    tokens = Flow(app, client, AuthActions(client)).tokens(rp, None)
    answer = client.get(
        "/logout/end?"
        + "&".join(
            [
                f"id_token_hint={tokens['id_token']}",
                f"post_logout_redirect_uri={RP_LOGOUT_REDIRECT}",
                "state=etat-du-portail",
            ]
        )
    )
    final = _through_provider(answer, fc_server, browser, client)
    assert final.status_code == 303
    location = final.headers["Location"]
    assert location.startswith(RP_LOGOUT_REDIRECT)
    assert query_of(location)["state"] == "etat-du-portail"
    assert client.get("/").status_code == 302
    started = [e for e in events(app) if e["type"] == "federation.logout_started"]
    assert started and started[0]["via"] == "oidc.end_session"
    assert urlsplit(location).netloc == "rp.example.fr"
