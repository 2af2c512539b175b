"""End to end through the real IdP: an operator created by ``idp operators add`` activates its account and signs in
to the console through OpenID Connect (PKCE, nonce, state) and reads its pages; an auditor and a voter get the French
403 page and no session; a reset ends the console session; signing out ends the IdP session too.

The IdP and the console are each served on 127.0.0.1 by werkzeug in a thread, on the back end of the test (SQLite,
or PostgreSQL + Redis); a ``requests.Session`` is the browser.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update

from idp.db import get_db
from idp.models import Voter, utcnow
from tests.audit_console.helpers import Browser, cli, text_of
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, VoterFactory, delivered_messages, link_path_in
from tests.operator_console.conftest import Suite

OPERATOR = "alix.pilotage@pilotage.example.fr"
OPERATOR_PASSWORD = "une phrase de passe d'opérateur 2027"
ACTIVATION = {
    "password": OPERATOR_PASSWORD,
    "password_confirm": OPERATOR_PASSWORD,
    "question": "football_team",
    "answer": "Les Pilotes de Nulle-Part",
}


def identifier_step(suite: Suite, browser: Browser, identifier: str):
    start = browser.get(f"{suite.console_url}/participation", allow_redirects=False)
    assert start.status_code == 302 and start.headers["Location"].startswith("/connexion")
    to_idp = browser.get(f"{suite.console_url}{start.headers['Location']}", allow_redirects=False)
    assert to_idp.status_code == 302 and to_idp.headers["Location"].startswith(f"{suite.idp_url}/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_idp.headers["Location"]).query).items()}
    assert params["client_id"] == suite.client_id and params["scope"] == "openid profile email audit"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    login = browser.get(to_idp.headers["Location"])
    return browser.submit(login, "/login", {"identifier": identifier, "captcha": TEST_CAPTCHA})


def sign_in(suite: Suite, browser: Browser, identifier: str, password: str):
    password_page = identifier_step(suite, browser, identifier)
    return browser.submit(password_page, "/login/password", {"password": password})


def activate(suite: Suite, browser: Browser) -> None:
    password_page = identifier_step(suite, browser, OPERATOR)
    assert browser.submit(password_page, "/login/activation", {}).status_code == 200
    [message] = [m for m in delivered_messages(suite.idp) if m.recipient == OPERATOR]
    form = browser.get(f"{suite.idp_url}{link_path_in(message.body)}")
    assert "Votre compte est activé" in text_of(browser.submit(form, None, ACTIVATION))


def test_operator_activates_signs_in_reads_the_pages_and_signs_out(suite: Suite, portal) -> None:
    assert cli(suite.idp, "operators", "add", OPERATOR, "--name", "Alix Pilotage").exit_code == 0
    browser = Browser()
    activate(suite, browser)
    first = sign_in(suite, browser, OPERATOR, OPERATOR_PASSWORD)
    assert first.url == f"{suite.console_url}/participation", first.url
    assert "<h1>Participation</h1>" in text_of(first) and "Opérateur : Alix Pilotage" in text_of(first)
    for path in ("/connexions", "/reassort", "/acheminement"):
        assert browser.get(f"{suite.console_url}{path}").status_code == 200, path
    # The operator's own sign-in shows on the sign-ins page.
    assert "1 connexions réussies" in " ".join(text_of(browser.get(f"{suite.console_url}/connexions")).split())

    out = browser.submit(first, "/deconnexion", {})
    assert any(r.headers.get("Location", "").startswith(f"{suite.idp_url}/logout/end?") for r in out.history)
    assert "Vous êtes déconnecté" in text_of(out)
    assert browser.get(f"{suite.console_url}/participation", allow_redirects=False).status_code == 302
    assert "Accès au portail Élections" in text_of(browser.get(f"{suite.console_url}/participation"))

    again = sign_in(suite, browser, OPERATOR, OPERATOR_PASSWORD)
    assert again.status_code == 200
    assert cli(suite.idp, "operators", "reset", OPERATOR).exit_code == 0
    assert browser.get(f"{suite.console_url}/connexions", allow_redirects=False).status_code == 403


def test_auditors_and_voters_are_refused(suite: Suite, portal) -> None:
    auditor = "sacha.controle@audit.example.fr"
    assert cli(suite.idp, "auditors", "add", auditor, "--name", "Sacha Contrôle").exit_code == 0
    factory = VoterFactory(suite.idp)
    factory.create("dominique.electeur@ac-exemple.fr")
    browser = Browser()
    refused = sign_in(suite, browser, "dominique.electeur@ac-exemple.fr", DEFAULT_PASSWORD)
    assert refused.status_code == 403 and refused.url.startswith(f"{suite.console_url}/connexion/retour")
    assert "Accès refusé" in text_of(refused) and "réservée aux comptes opérateurs" in text_of(refused)
    assert browser.get(f"{suite.console_url}/participation", allow_redirects=False).status_code == 302

    with get_db(suite.idp).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == auditor)
            .values(password_hash=suite.idp.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=utcnow())
        )
    other = Browser()
    refused = sign_in(suite, other, auditor, DEFAULT_PASSWORD)
    assert refused.status_code == 403 and "réservée aux comptes opérateurs" in text_of(refused)
    assert other.get(f"{suite.console_url}/reassort", allow_redirects=False).status_code == 302, "no session"
