"""End to end through the real IdP: an auditor created by ``idp auditors add`` activates its account and signs in to
the console through OpenID Connect (PKCE, nonce, state), reads the journal and the tokens, re-runs the verification
(which changes nothing in the log); a voter gets the French 403 page; removing or resetting the auditor ends its
console session at once; signing out ends the IdP session too.

The IdP and the console are each served on 127.0.0.1 by werkzeug in a thread, on the back end of the test (SQLite,
or PostgreSQL + Redis); a ``requests.Session`` is the browser.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcToken
from tests.audit_console.conftest import Suite
from tests.audit_console.helpers import AUDITOR, AUDITOR_PASSWORD, Browser, cli, text_of
from tests.helpers import DEFAULT_PASSWORD, TEST_CAPTCHA, VoterFactory, delivered_messages, link_path_in

ACTIVATION = {
    "password": AUDITOR_PASSWORD,
    "password_confirm": AUDITOR_PASSWORD,
    "question": "football_team",
    "answer": "Les Vérificateurs de Nulle-Part",
}


def log_state(suite: Suite) -> tuple[int, int]:
    with get_db(suite.idp).transaction() as session:
        count, last = session.execute(select(func.count(), func.max(AuditEvent.id))).one()
    return int(count), int(last or 0)


def identifier_step(suite: Suite, browser: Browser, identifier: str):
    start = browser.get(f"{suite.console_url}/journal", allow_redirects=False)
    assert start.status_code == 302 and start.headers["Location"].startswith("/connexion")
    to_idp = browser.get(f"{suite.console_url}{start.headers['Location']}", allow_redirects=False)
    assert to_idp.status_code == 302
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_idp.headers["Location"]).query).items()}
    assert to_idp.headers["Location"].startswith(f"{suite.idp_url}/authorize?")
    assert params["client_id"] == suite.client_id and params["scope"] == "openid profile email audit"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    login = browser.get(to_idp.headers["Location"])
    assert "Accès au portail Élections" in text_of(login)
    return browser.submit(login, "/login", {"identifier": identifier, "captcha": TEST_CAPTCHA})


def sign_in(suite: Suite, browser: Browser, identifier: str, password: str):
    password_page = identifier_step(suite, browser, identifier)
    return browser.submit(password_page, "/login/password", {"password": password})


def activate(suite: Suite, browser: Browser) -> None:
    """First sign-in of an auditor: the same screens as a voter's, activation link to its address."""
    password_page = identifier_step(suite, browser, AUDITOR)
    sent = browser.submit(password_page, "/login/activation", {})
    assert sent.status_code == 200
    [message] = [m for m in delivered_messages(suite.idp) if m.recipient == AUDITOR]
    form = browser.get(f"{suite.idp_url}{link_path_in(message.body)}")
    done = browser.submit(form, None, ACTIVATION)
    assert "Votre compte est activé" in text_of(done)


def add_auditor(suite: Suite) -> None:
    added = cli(suite.idp, "auditors", "add", AUDITOR, "--name", "Camille Contrôle")
    assert added.exit_code == 0, added.output


def test_auditor_activates_signs_in_reads_the_journal_and_verifies(suite: Suite) -> None:
    add_auditor(suite)
    browser = Browser()
    activate(suite, browser)
    journal = sign_in(suite, browser, AUDITOR, AUDITOR_PASSWORD)
    assert journal.url == f"{suite.console_url}/journal", journal.url
    page = text_of(journal)
    assert "Journal d'audit : événements" in page and "Auditeur : Camille Contrôle" in page
    assert "Le journal n'a pas encore été vérifié par cette console." in page
    for kind in ("auditor.added", "activation.completed", "login.succeeded", "token.issued"):
        assert kind in page, kind
    assert AUDITOR not in page, "the journal names pseudonymous subjects, never an address"

    # "Vérifier maintenant": a POST that runs the verification and changes nothing in the log.
    before = log_state(suite)
    verified = browser.submit(journal, "/verification", {})
    assert verified.url == f"{suite.console_url}/journal"
    assert "Chaînes intègres" in text_of(verified)
    assert "Scellements : aucun scellement enregistré." in text_of(verified)
    assert log_state(suite) == before

    # The token view: the console's own tokens, with their jti and the subject the console knows, never a token.
    tokens = text_of(browser.get(f"{suite.console_url}/jetons"))
    assert "Journal d'audit : jetons" in tokens and "Émis" in tokens
    assert suite.client_id in tokens and "sujet chez le client" in tokens and "actif" in tokens
    assert not shown_tokens(suite, tokens), "no token value on the page"


def shown_tokens(suite: Suite, page: str) -> set[bytes]:
    """The stored tokens (by their SHA-256) of which some string of ``page`` is the value."""
    with get_db(suite.idp).transaction() as session:
        stored = {bytes(digest) for digest in session.execute(select(OidcToken.token_hash)).scalars()}
    assert stored, "the console's sign-in issued tokens"
    candidates = set(re.findall(r"[A-Za-z0-9_~.-]{20,}", page))
    return {hashlib.sha256(c.encode()).digest() for c in candidates} & stored


def test_a_voter_gets_the_french_403_page(suite: Suite) -> None:
    VoterFactory(suite.idp).create("dominique.electeur@ac-exemple.fr")
    browser = Browser()
    refused = sign_in(suite, browser, "dominique.electeur@ac-exemple.fr", DEFAULT_PASSWORD)
    assert refused.status_code == 403
    assert refused.url.startswith(f"{suite.console_url}/connexion/retour")
    assert "Accès refusé" in text_of(refused) and "réservé aux comptes auditeurs" in text_of(refused)
    # No console session was opened: the journal sends the browser back to the IdP (single sign-on), then 403.
    again = browser.get(f"{suite.console_url}/jetons")
    assert again.status_code == 403 and "Accès refusé" in text_of(again)
    assert browser.get(f"{suite.console_url}/journal", allow_redirects=False).status_code == 302


def test_removing_or_resetting_the_auditor_ends_its_console_session(suite: Suite) -> None:
    add_auditor(suite)
    browser = Browser()
    activate(suite, browser)
    assert sign_in(suite, browser, AUDITOR, AUDITOR_PASSWORD).status_code == 200
    assert browser.get(f"{suite.console_url}/jetons").status_code == 200

    assert cli(suite.idp, "auditors", "reset", AUDITOR).exit_code == 0
    after_reset = browser.get(f"{suite.console_url}/jetons", allow_redirects=False)
    assert after_reset.status_code == 403, "the account's session epoch moved on"

    assert cli(suite.idp, "auditors", "remove", AUDITOR).exit_code == 0
    assert cli(suite.idp, "auditors", "list").output.strip() == "Aucun compte auditeur."


def test_sign_out_ends_the_console_and_the_idp_sessions(suite: Suite) -> None:
    add_auditor(suite)
    browser = Browser()
    activate(suite, browser)
    journal = sign_in(suite, browser, AUDITOR, AUDITOR_PASSWORD)
    copied = browser.http.cookies.get("audit_console_session", domain="127.0.0.1")
    assert copied, "the console's session cookie"
    out = browser.submit(journal, "/deconnexion", {})
    assert any(r.headers.get("Location", "").startswith(f"{suite.idp_url}/logout/end?") for r in out.history)
    assert out.url.startswith(f"{suite.console_url}/deconnexion/fin?state=")
    assert "Vous êtes déconnecté" in text_of(out)
    assert browser.get(f"{suite.console_url}/journal", allow_redirects=False).status_code == 302
    # The session ended at the console's store: a copy of the cookie taken before signing out opens nothing.
    thief = Browser()
    thief.http.cookies.set("audit_console_session", copied, domain="127.0.0.1")
    replay = thief.get(f"{suite.console_url}/journal", allow_redirects=False)
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/connexion")
    # Signed out at the IdP too: the identifier is asked again.
    again = browser.get(f"{suite.console_url}/journal")
    assert "Accès au portail Élections" in text_of(again)
