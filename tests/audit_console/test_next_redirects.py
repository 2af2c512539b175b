"""``next`` on the auditors' console: a table of hostile values never leads a browser off the console (or off the IdP
while it signs the auditor in) and never reaches a 500 — on ``/connexion`` signed in and anonymous (through the IdP
and back), after « Vérifier maintenant », and on the pages that send an anonymous visitor to sign in."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urljoin

import requests
from flask import Flask

from tests.audit_console.conftest import Suite
from tests.audit_console.helpers import AUDITOR, AUDITOR_PASSWORD, Browser, cli
from tests.audit_console.test_console_pages import signed_in
from tests.audit_console.test_console_signin import ACTIVATION
from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin
from tests.staff_consoles import activate, sign_in

CONSOLE = "http://localhost"


def test_next_of_connexion_and_of_the_verification_stays_on_the_console(app: Flask, make_console) -> None:
    client = signed_in(app, make_console())
    page = client.get("/journal")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf
    for value in HOSTILE_LOCATIONS:
        response = client.get("/connexion", query_string={"next": value})
        assert_stays_on_origin(response, f"{CONSOLE}/connexion", value=value)
        assert response.status_code == 302 and response.headers["Location"] == "/journal", value
        done = client.post("/verification", data={"csrf_token": csrf.group(1), "next": value})
        assert_stays_on_origin(done, f"{CONSOLE}/verification", value=value)
        assert done.status_code == 303 and done.headers["Location"] == "/journal", value


def test_pages_send_an_anonymous_visitor_to_sign_in_with_a_local_next(make_console) -> None:
    client = make_console().test_client()
    for path in ("/journal", "/jetons", "/journal/%5c%09evil.example"):
        for suffix in ("", "?type=%0a", "?next=//evil.example", "?sujet=/%09/evil.example"):
            response = client.get(path + suffix)
            assert_stays_on_origin(response, f"{CONSOLE}{path}", value=path + suffix)


def _walk(browser: Browser, url: str, suite: Suite, value: str) -> requests.Response:
    response = browser.get(url, allow_redirects=False)
    for _ in range(12):
        assert_stays_on_origin(response, response.url, allowed_origins=(suite.idp_url, suite.console_url), value=value)
        if not 300 <= response.status_code < 400:
            return response
        response = browser.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False)
    raise AssertionError(f"too many redirects for {value!r}")


def test_next_survives_no_round_trip_through_the_idp(suite: Suite) -> None:
    assert cli(suite.idp, "auditors", "add", AUDITOR, "--name", "Camille Contrôle").exit_code == 0
    browser = Browser()
    activate(suite, browser, AUDITOR, "/journal", ACTIVATION)
    assert sign_in(suite, browser, AUDITOR, AUDITOR_PASSWORD, "/journal").url == f"{suite.console_url}/journal"
    cookie = suite.console.config["SESSION_COOKIE_NAME"]
    for value in HOSTILE_LOCATIONS:
        browser.http.cookies.clear(domain="127.0.0.1", path="/", name=cookie)
        landed = _walk(browser, f"{suite.console_url}/connexion?" + urlencode({"next": value}), suite, value)
        assert landed.url == f"{suite.console_url}/journal", (value, landed.url)
