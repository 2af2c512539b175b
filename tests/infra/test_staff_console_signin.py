"""Signing in to a staff console (:mod:`infra.staff_console`) through the real IdP, for each console: the auditors'
(``audit_console``) and the operators' (``operator_console``). An account created by ``idp <group> add`` activates
itself and signs in through OpenID Connect (PKCE, nonce, state) and reads the console's pages; a voter and the
other role's staff get the French 403 page and no session; a reset ends the console session at once; signing out
ends the console's session (a copy of its cookie opens nothing) and the IdP's.

The IdP and the console are each served on 127.0.0.1 by werkzeug in a thread, on the back end of the test (SQLite,
or PostgreSQL + Redis); a ``requests.Session`` is the browser. What only one console shows (the auditors' journal,
its verification and the token view) is tested beside it, in ``tests/audit_console/test_console_signin.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import update

from audit_console import create_app as create_audit_console
from idp.db import get_db
from idp.models import Voter, utcnow
from operator_console import create_app as create_operator_console
from tests import backends
from tests.audit_console.conftest import console_settings as audit_console_settings
from tests.audit_console.helpers import AUDITOR, AUDITOR_PASSWORD, Browser, cli, text_of
from tests.helpers import DEFAULT_PASSWORD, VoterFactory
from tests.operator_console.conftest import close_console as close_operator_console
from tests.operator_console.conftest import console_settings as operator_console_settings
from tests.operator_console.conftest import portal, portal_storage  # noqa: F401 - fixtures
from tests.staff_consoles import Suite, activate, console_builder, live_suite, sign_in

OPERATOR = "alix.pilotage@pilotage.example.fr"
OPERATOR_PASSWORD = "une phrase de passe d'opérateur 2027"


@dataclass(frozen=True)
class Console:
    """One console and the staff role it serves, as these tests meet them."""

    group: str
    noun: str
    identifier: str
    password: str
    name: str
    #: Where an unsigned browser starts, and the other pages a signed-in member reads.
    home: str
    pages: tuple[str, ...]
    heading: str
    #: The label before the member's name in the console's header.
    label: str
    refusal: str
    cookie: str
    answer: str
    #: A page showing the member's own sign-in, and how.
    own_sign_in: tuple[str, str]

    @property
    def activation(self) -> dict[str, str]:
        return {
            "password": self.password,
            "password_confirm": self.password,
            "question": "football_team",
            "answer": self.answer,
        }


AUDITORS = Console(
    group="auditors",
    noun="auditeur",
    identifier=AUDITOR,
    password=AUDITOR_PASSWORD,
    name="Camille Contrôle",
    home="/journal",
    pages=("/jetons",),
    heading="Journal d'audit : événements",
    label="Auditeur",
    refusal="réservé aux comptes auditeurs",
    cookie="audit_console_session",
    answer="Les Vérificateurs de Nulle-Part",
    own_sign_in=("/journal", "login.succeeded"),
)
OPERATORS = Console(
    group="operators",
    noun="opérateur",
    identifier=OPERATOR,
    password=OPERATOR_PASSWORD,
    name="Alix Pilotage",
    home="/participation",
    pages=("/connexions", "/reassort", "/acheminement"),
    heading="<h1>Participation</h1>",
    label="Opérateur",
    refusal="réservée aux comptes opérateurs",
    cookie="operator_console_session",
    answer="Les Pilotes de Nulle-Part",
    own_sign_in=("/connexions", "1 connexions réussies"),
)


@pytest.fixture(params=[AUDITORS, OPERATORS], ids=["auditors", "operators"])
def console(request: pytest.FixtureRequest) -> Console:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def suite(
    console: Console,
    request: pytest.FixtureRequest,
    make_app: Callable[..., Flask],
    backend: backends.Backend,
    tmp_path: Path,
) -> Iterator[Suite]:
    """The IdP and ``console``, served; the operators' console with a portal database beside the IdP's."""
    if console is AUDITORS:
        config = audit_console_settings(backend, request.getfixturevalue("seal_key"), tmp_path)
        create, close = create_audit_console, (lambda _: None)
    else:
        request.getfixturevalue("portal")
        config = operator_console_settings(backend, request.getfixturevalue("portal_storage"), tmp_path)
        create, close = create_operator_console, close_operator_console
    with console_builder(create, config, close) as build, live_suite(make_app, build, console.group) as served:
        yield served
    if backend.redis_url:
        backends.clear_redis_prefix(config["REDIS_PREFIX"])


def add(suite: Suite, console: Console) -> None:
    added = cli(suite.idp, console.group, "add", console.identifier, "--name", console.name)
    assert added.exit_code == 0, added.output


def signed_in(suite: Suite, console: Console) -> tuple[Browser, requests.Response]:
    """A member of ``console``'s role, added, activated and signed in: the browser and the console's first page."""
    add(suite, console)
    browser = Browser()
    activate(suite, browser, console.identifier, console.home, console.activation)
    first = sign_in(suite, browser, console.identifier, console.password, console.home)
    assert first.status_code == 200 and first.url == f"{suite.console_url}{console.home}", first.url
    return browser, first


def test_a_member_activates_signs_in_and_reads_the_pages(suite: Suite, console: Console) -> None:
    browser, first = signed_in(suite, console)
    page = text_of(first)
    assert console.heading in page and f"{console.label} : {console.name}" in page
    for path in console.pages:
        assert browser.get(f"{suite.console_url}{path}").status_code == 200, path
    path, shown = console.own_sign_in
    assert shown in " ".join(text_of(browser.get(f"{suite.console_url}{path}")).split())


def test_a_voter_gets_the_french_403_page_and_no_session(suite: Suite, console: Console) -> None:
    VoterFactory(suite.idp).create("dominique.electeur@ac-exemple.fr")
    browser = Browser()
    refused = sign_in(suite, browser, "dominique.electeur@ac-exemple.fr", DEFAULT_PASSWORD, console.home)
    assert refused.status_code == 403 and refused.url.startswith(f"{suite.console_url}/connexion/retour")
    assert "Accès refusé" in text_of(refused) and console.refusal in text_of(refused)
    # No console session was opened: a page sends the browser back to the IdP (single sign-on), then 403 again.
    assert browser.get(f"{suite.console_url}{console.home}", allow_redirects=False).status_code == 302
    again = browser.get(f"{suite.console_url}{console.pages[0]}")
    assert again.status_code == 403 and "Accès refusé" in text_of(again)


def test_the_other_roles_staff_is_refused(suite: Suite, console: Console) -> None:
    other = OPERATORS if console is AUDITORS else AUDITORS
    add(suite, other)
    with get_db(suite.idp).transaction() as session:
        session.execute(
            update(Voter)
            .where(Voter.identifier == other.identifier)
            .values(password_hash=suite.idp.extensions["idp.hasher"].hash(DEFAULT_PASSWORD), activated_at=utcnow())
        )
    browser = Browser()
    refused = sign_in(suite, browser, other.identifier, DEFAULT_PASSWORD, console.home)
    assert refused.status_code == 403 and console.refusal in text_of(refused)
    assert browser.get(f"{suite.console_url}{console.pages[0]}", allow_redirects=False).status_code == 302, "none"


def test_a_reset_ends_the_console_session_and_a_removal_the_account(suite: Suite, console: Console) -> None:
    browser, _ = signed_in(suite, console)
    assert browser.get(f"{suite.console_url}{console.pages[0]}").status_code == 200
    assert cli(suite.idp, console.group, "reset", console.identifier).exit_code == 0
    after_reset = browser.get(f"{suite.console_url}{console.pages[0]}", allow_redirects=False)
    assert after_reset.status_code == 403, "the account's session epoch moved on"
    assert cli(suite.idp, console.group, "remove", console.identifier).exit_code == 0
    assert cli(suite.idp, console.group, "list").output.strip() == f"Aucun compte {console.noun}."


def test_sign_out_ends_the_console_and_the_idp_sessions(suite: Suite, console: Console) -> None:
    browser, first = signed_in(suite, console)
    copied = browser.http.cookies.get(console.cookie, domain="127.0.0.1")
    assert copied, "the console's session cookie"
    out = browser.submit(first, "/deconnexion", {})
    assert any(r.headers.get("Location", "").startswith(f"{suite.idp_url}/logout/end?") for r in out.history)
    assert out.url.startswith(f"{suite.console_url}/deconnexion/fin?state=")
    assert "Vous êtes déconnecté" in text_of(out)
    assert browser.get(f"{suite.console_url}{console.home}", allow_redirects=False).status_code == 302
    # The session ended at the console's store: a copy of the cookie taken before signing out opens nothing.
    thief = Browser()
    thief.http.cookies.set(console.cookie, copied, domain="127.0.0.1")
    replay = thief.get(f"{suite.console_url}{console.home}", allow_redirects=False)
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/connexion")
    # Signed out at the IdP too: the identifier is asked again; signing in again works.
    assert "Accès au portail Élections" in text_of(browser.get(f"{suite.console_url}{console.home}"))
    assert sign_in(suite, browser, console.identifier, console.password, console.home).status_code == 200
