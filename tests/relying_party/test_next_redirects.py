"""``next`` on the portal: a table of hostile values never leads a browser off the portal (or off the IdP while it
signs the voter in) and never reaches a 500 — on ``/connexion`` signed in (the reported case: ``/%09/evil.example``
answered ``Location: //evil.example``), on the way back from the IdP after the sign-in and after the vote-code step
(the phishing spot right after typing the vote code), and on the pages that send an anonymous voter to sign in."""

from __future__ import annotations

import html
from urllib.parse import urlencode, urljoin

import requests
from flask import Flask

from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin
from tests.relying_party import test_signin_live_idp as live_idp
from tests.relying_party.helpers import sign_in as put_signed_in_state
from tests.relying_party.test_signin_live_idp import Browser, Suite, sign_in

#: The IdP and this portal served on 127.0.0.1, a voter with a vote code (the end-to-end tests' fixture).
suite = live_idp.suite

PORTAL = "http://localhost"


def test_next_of_connexion_signed_in_stays_on_the_portal(app: Flask) -> None:
    client = app.test_client()
    put_signed_in_state(client, app)
    for value in HOSTILE_LOCATIONS:
        response = client.get("/connexion", query_string={"next": value})
        assert_stays_on_origin(response, f"{PORTAL}/connexion", value=value)
        assert response.status_code == 302 and response.headers["Location"] == "/", (value, response.headers)


def test_pages_send_an_anonymous_voter_to_sign_in_with_a_local_next(app: Flask) -> None:
    client = app.test_client()
    for path in ("/mon-compte", "/je-vote/OPEN", "/mes-scrutins/%5c%09evil.example/liste-electorale"):
        for suffix in ("", "?x=%0a", "?next=//evil.example"):
            response = client.get(path + suffix)
            assert response.status_code == 302, (path, response.status_code)
            assert_stays_on_origin(response, f"{PORTAL}{path}", value=path + suffix)


def _walk(browser: Browser, url: str, suite: Suite, value: str) -> requests.Response:
    """Follow redirects by hand, checking each hop: no 5xx, no origin but the portal's and the IdP's."""
    response = browser.get(url, allow_redirects=False)
    for _ in range(12):
        assert_stays_on_origin(response, response.url, allowed_origins=(suite.idp_url, suite.portal_url), value=value)
        if not 300 <= response.status_code < 400:
            return response
        response = browser.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False)
    raise AssertionError(f"too many redirects for {value!r}")


def test_next_survives_no_round_trip_through_the_idp(suite: Suite) -> None:
    browser = Browser()
    sign_in(suite, browser)
    cookie = suite.portal_app.config["SESSION_COOKIE_NAME"]
    for value in HOSTILE_LOCATIONS:
        # Signed in at the IdP, not at the portal: /connexion goes there and straight back.
        browser.http.cookies.clear(domain="127.0.0.1", path="/", name=cookie)
        landed = _walk(browser, f"{suite.portal_url}/connexion?" + _query(value), suite, value)
        assert landed.url == f"{suite.portal_url}/", (value, landed.url)
        assert "Bienvenue sur votre portail Élections" in landed.text


def test_next_of_the_vote_code_step_stays_on_the_portal(suite: Suite) -> None:
    browser = Browser()
    sign_in(suite, browser)
    step = browser.get(f"{suite.portal_url}/je-vote/code")
    # The IdP answers the authorization request with the vote-code step itself.
    assert step.url.startswith(f"{suite.idp_url}/authorize?"), step.url
    assert "Saisie du code de vote" in html.unescape(step.text)
    browser.submit(step, "/login/vote-code", {"code": suite.vote_code, "captcha": "12345"})
    for value in HOSTILE_LOCATIONS:
        # The vote-code level is fresh at the IdP: it answers at once, and the portal goes on to ``next``.
        landed = _walk(browser, f"{suite.portal_url}/je-vote/code?" + _query(value), suite, value)
        assert landed.url == f"{suite.portal_url}/je-vote", (value, landed.url)


def _query(value: str) -> str:
    return urlencode({"next": value})
