"""The seed's whole journey, watched as an operator watches it: the metrics of each step move, and neither the logs
of the journey nor the metrics hold anything personal or secret.

The IdP (with the réassort plugin) and the portal are served by werkzeug in threads, a ``requests.Session`` is the
browser: Claire signs in (after a wrong CAPTCHA and a wrong password), asks to vote, has lost her notice, asks for a
réassort by question défi with a link to her personal address, opens the link, generates a code, enters it, casts
her ballot. Every log line written meanwhile (JSON, as in production) is then searched for her identifier, her
personal address, her NUMEN and NIR, her password and secret answer, both vote codes, the link, the authorization
code and the session cookies.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from prometheus_client import generate_latest

import idp
from idp.db import get_db as idp_db
from infra import metrics
from infra.logs import JsonFormatter
from tests.delivery_servers import free_port
from tests.helpers import DEFAULT_ANSWER, DEFAULT_PASSWORD, TEST_CAPTCHA, VoterFactory, delivered_messages, link_path_in
from tests.metrics_helpers import value
from tests.oidc_helpers import install_keys, make_client
from tests.relying_party.helpers import CLAIRE, load, standard_document
from tests.relying_party.live import LiveServer
from tests.relying_party.test_signin_live_idp import IDP_CONFIG, Browser
from tests.relying_party.voting import ballot_from_html, ensure_key

NUMEN = "12A3456789ABC"
NIR10 = "2850721231"
PERSONAL = "claire.perso@example.org"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CODE = re.compile(r'<p class="reassort-code"><span aria-hidden="true">([^<]+)</span>')


class Capture(logging.Handler):
    """Every line the process logs at INFO and above, formatted as production writes it (werkzeug's development
    server, which stands in for gunicorn here and writes raw paths, is left out: gunicorn's access log is off)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("werkzeug"):
            self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def post_here(browser: Browser, page: requests.Response, fields: dict[str, str]) -> requests.Response:
    """Post the page's form (no action: to the page itself), with its CSRF token."""
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on {page.url}"
    return browser.http.post(page.url, data={"csrf_token": match.group(1), **fields}, timeout=30)


def counts() -> dict[str, float]:
    return {
        "started": value("elections_signins_started_total", method="password"),
        "succeeded": value("elections_signins_succeeded_total", method="password"),
        "failed_password": value("elections_signins_failed_total", reason="password"),
        "failed_captcha": value("elections_signins_failed_total", reason="captcha"),
        "captcha_wrong": value("elections_captcha_checks_total", app="idp", outcome="wrong"),
        "captcha_passed": value("elections_captcha_checks_total", app="idp", outcome="passed"),
        "votecode": value("elections_votecode_steps_total", outcome="verified"),
        "requested": value("elections_reassort_requests_total", kind="code", channel="email", outcome="requested"),
        "sent": value("elections_reassort_links_sent_total", kind="code", channel="email"),
        "opened": value("elections_reassort_links_opened_total", kind="code", channel="email"),
        "generated": value("elections_reassort_codes_generated_total", kind="code", channel="email"),
        "delivered": value("elections_deliveries_total", app="idp", channel="email", outcome="sent"),
        "ballots": value("elections_ballots_cast_total"),
        "authorize": value("elections_http_requests_total", app="idp", route="/authorize", method="GET", status="200"),
        "receipt": value(
            "elections_http_requests_total", app="portal", route="/je-vote/<code>/recu", method="GET", status="200"
        ),
    }


def test_a_whole_journey_moves_each_metric_and_logs_nothing_personal(
    app: Flask, make_portal: Any, sqlite_template: Any, tmp_path: Path, capture: Capture
) -> None:
    idp_port, portal_port = free_port(), free_port()
    idp_url, portal_url = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{portal_port}"
    (tmp_path / "idp").mkdir()
    idp_app = idp.create_app(
        {
            **IDP_CONFIG,
            "PUBLIC_URL": idp_url,
            "PLUGINS": "reassort",
            **sqlite_template.fresh(tmp_path / "idp").config(),
        }
    )
    install_keys(idp_app)
    VoterFactory(idp_app).create(
        CLAIRE, family_name="JULLIEN", first_names="Claire", gender="F", academie="dijon", numen=NUMEN, nir10=NIR10
    )
    rp = make_client(
        idp_app,
        client_name="Portail Élections",
        first_party=True,
        redirect_uris=[f"{portal_url}/connexion/retour"],
        post_logout_redirect_uris=[f"{portal_url}/deconnexion/fin"],
        backchannel_logout_uri=f"{portal_url}/backchannel-logout",
    )
    load(app, standard_document(metrics.utcnow()))
    ensure_key(app, "OPEN")
    portal = make_portal(IDP_ISSUER=idp_url, PUBLIC_URL=portal_url, CLIENT_ID=rp.client_id, CLIENT_SECRET=rp.secret)
    before = counts()
    grants = value("elections_token_grants_total", grant_type="authorization_code", client_id=rp.client_id)
    secrets: list[str] = [CLAIRE, PERSONAL, NUMEN, NIR10, DEFAULT_PASSWORD, DEFAULT_ANSWER, "claire.jullien"]

    with LiveServer(idp_app, idp_port), LiveServer(portal, portal_port):
        browser = Browser()
        login = browser.get(f"{portal_url}/connexion")
        again = browser.submit(login, "/login", {"identifier": CLAIRE, "captcha": "99999"})
        assert "Accès au portail Élections" in again.text, "a wrong CAPTCHA: the identifier page again"
        password_page = browser.submit(again, "/login", {"identifier": CLAIRE, "captcha": TEST_CAPTCHA})
        wrong = browser.submit(password_page, "/login/password", {"password": "pas le bon mot de passe"})
        assert "Saisie du mot de passe Élections" in wrong.text
        secrets.append("pas le bon mot de passe")
        home = browser.submit(wrong, "/login/password", {"password": DEFAULT_PASSWORD})
        assert home.url == f"{portal_url}/"
        codes = [r.headers["Location"] for r in home.history if "/connexion/retour?" in r.headers.get("Location", "")]
        secrets.extend(parse_qs(urlsplit(codes[0]).query)["code"])

        step_up = browser.get(f"{portal_url}/je-vote/OPEN")
        # The vote-code step, shown in the authorization request's own answer.
        assert step_up.url.startswith(f"{idp_url}/authorize?"), step_up.url
        assert "<h1>Saisie du code de vote</h1>" in step_up.text
        choice = browser.get(f"{idp_url}/reassort/code")
        assert choice.status_code == 200
        request_page = browser.get(f"{idp_url}/reassort/code/defi")
        sent = post_here(
            browser,
            request_page,
            {"answer": DEFAULT_ANSWER, "identity": NUMEN, "channel": "email", "email": PERSONAL, "phone": ""},
        )
        assert sent.status_code == 200, sent.text[:500]
        messages = [m for m in delivered_messages(idp_app) if m.recipient == PERSONAL]
        assert len(messages) == 1
        link = link_path_in(messages[0].body)
        secrets.append(link.rsplit("/", 1)[-1])
        opened = browser.get(f"{idp_url}{link}")
        assert "Générer un code" in opened.text
        shown = post_here(browser, opened, {})
        code = _CODE.search(shown.text)
        assert code, shown.text[:500]
        secrets.extend([code.group(1), code.group(1).replace("-", "").replace(" ", "")])
        noted = post_here(browser, shown, {"noted": "y"})
        assert noted.url.startswith(f"{idp_url}/login/vote-code"), noted.url
        ballot = browser.submit(noted, "/login/vote-code", {"code": code.group(1), "captcha": TEST_CAPTCHA})
        assert ballot.url == f"{portal_url}/je-vote/OPEN", ballot.url
        receipt = browser.submit(ballot, "/je-vote/OPEN/bulletin", {"ballot": ballot_from_html(ballot.text, 1)})
        assert receipt.url == f"{portal_url}/je-vote/OPEN/recu"
        secrets.extend(cookie.value for cookie in browser.http.cookies if cookie.value)
    idp_db(idp_app).dispose()

    after = counts()
    moved = {name: after[name] - before[name] for name in before}
    assert moved == {
        "started": 1,
        "succeeded": 1,
        "failed_password": 1,
        "failed_captcha": 1,
        "captcha_wrong": 1,
        "captcha_passed": 2,  # the identifier page, the vote-code step
        "votecode": 1,
        "requested": 1,
        "sent": 1,
        "opened": 1,
        "generated": 1,
        "delivered": 1,
        "ballots": 1,
        "authorize": 2,  # the sign-in, the step-up: each answered with its screen
        "receipt": 1,
    }
    assert value("elections_token_grants_total", grant_type="authorization_code", client_id=rp.client_id) == grants + 2

    logs = "\n".join(capture.lines)
    requests_logged = [line for line in capture.lines if '"event": "request"' in line]
    assert len(requests_logged) > 20, "one line per request"
    assert any('"route": "/reassort/code/lien/<token>"' in line for line in requests_logged)
    assert any('"subject": ' in line for line in requests_logged), "the pseudonymous subject where one exists"
    exposition = generate_latest(metrics.scrape_registry()).decode()
    for secret in secrets:
        for where, text in (("logs", logs), ("metrics", exposition)):
            assert secret.lower() not in text.lower(), f"{secret!r} found in the {where}"
            assert html.escape(secret).lower() not in text.lower()
