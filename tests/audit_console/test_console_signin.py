"""End to end through the real IdP, what only the auditors' console shows: a signed-in auditor reads the journal and
the tokens (never a token's value) and re-runs the verification, which changes nothing in the log. Signing in, the
refusals, the end of the session on a reset and signing out are tested for both staff consoles in
``tests/infra/test_staff_console_signin.py``.

The IdP and the console are each served on 127.0.0.1 by werkzeug in a thread, on the back end of the test (SQLite,
or PostgreSQL + Redis); a ``requests.Session`` is the browser.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select

from idp.db import get_db
from idp.models import AuditEvent
from idp.oidc.models import OidcToken
from tests.audit_console.conftest import Suite
from tests.audit_console.helpers import AUDITOR, AUDITOR_PASSWORD, Browser, cli, text_of
from tests.staff_consoles import activate, sign_in

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


def test_auditor_reads_the_journal_verifies_it_and_reads_the_tokens(suite: Suite) -> None:
    added = cli(suite.idp, "auditors", "add", AUDITOR, "--name", "Camille Contrôle")
    assert added.exit_code == 0, added.output
    browser = Browser()
    activate(suite, browser, AUDITOR, "/journal", ACTIVATION)
    journal = sign_in(suite, browser, AUDITOR, AUDITOR_PASSWORD, "/journal")
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
