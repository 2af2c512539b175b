"""The password réassort: same verification (question défi chosen, secret answer, NUMEN/NIR, channel), a
single-use link, a new password under the policy, and every session of the voter ends."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from idp.db import get_db
from idp.models import OneTimeLink, OutboxMessage, Voter
from tests.helpers import DEFAULT_PASSWORD, AuthActions, csrf_of, outbox_messages
from tests.reassort_plugin.helpers import (
    LOCKED,
    PASSWORD_REQUEST,
    PERSONAL_EMAIL,
    WRONG,
    ReassortActions,
    data_of,
    events,
    last_link,
    types,
)

NEW_PASSWORD = "Une toute nouvelle phrase de passe 2022"


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def count(app, model) -> int:
    with get_db(app).transaction() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def start(app, identifier: str) -> tuple[Any, ReassortActions]:
    """A new browser that typed ``identifier`` at the identifier step (and is on the password page)."""
    browser = app.test_client()
    assert AuthActions(browser).submit_identifier(identifier).status_code == 302
    return browser, ReassortActions(browser)


def set_password(browser, path: str, password: str, confirm: str | None = None):
    page = browser.get(path)
    assert page.status_code == 200, page.status_code
    return browser.post(
        path,
        data={
            "csrf_token": csrf_of(page),
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


def without_tokens(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html.replace("\n", ""))


def test_the_request_needs_a_sign_in_under_way(client):
    response = client.get(PASSWORD_REQUEST)
    assert response.status_code == 302 and response.headers["Location"] == "/login?expired=1"


def test_the_page_asks_for_the_question_and_is_the_same_for_any_identifier(app, voters):
    voter = voters.create(challenge_question="first_pet")
    known, _ = start(app, voter.identifier)
    unknown, _ = start(app, "personne.inconnue@ac-exemple.fr")
    known_page = text(known.get(PASSWORD_REQUEST))
    unknown_page = text(unknown.get(PASSWORD_REQUEST))
    assert "<h1>Demande de réassort du mot de passe Élections</h1>" in known_page
    assert 'class="fr-select" id="question" name="question" required>' in known_page
    assert known_page.count("<option") == 9  # the placeholder and the eight questions
    assert 'selected value="first_pet"' not in known_page  # the voter's choice is never revealed
    assert without_tokens(known_page).replace(voter.identifier, "X") == without_tokens(unknown_page).replace(
        "personne.inconnue@ac-exemple.fr", "X"
    )


@pytest.mark.parametrize(
    "case", ["unknown identifier", "not activated", "wrong question", "wrong answer", "wrong numen"]
)
def test_every_mismatch_gets_the_same_answer_and_nothing_is_sent(app, voters, case):
    identifier = "personne.inconnue@ac-exemple.fr"
    fields: dict[str, str] = {}
    if case == "not activated":
        identifier = voters.create(password=None).identifier
    elif case != "unknown identifier":
        identifier = voters.create().identifier
        fields = {
            "wrong question": {"question": "first_pet"},
            "wrong answer": {"answer": "Autre chose"},
            "wrong numen": {"identity": "99Z9999999ZZZ"},
        }[case]
    _, reassort = start(app, identifier)
    response = reassort.ask_password(**fields)
    assert response.status_code == 401
    assert WRONG in text(response) and "Vérifiez la question défi choisie" in text(response)
    assert count(app, OutboxMessage) == 0 and count(app, OneTimeLink) == 0
    assert types(app) == ["reassort.requested", "reassort.failed"]


class TestLockout:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "REASSORT_LOCKOUT_THRESHOLD": 2}

    @pytest.mark.parametrize("exists", [True, False], ids=["voter", "unknown"])
    def test_an_unknown_identifier_locks_exactly_like_a_voter(self, app, voters, exists):
        identifier = voters.create().identifier if exists else "personne.inconnue@ac-exemple.fr"
        _, reassort = start(app, identifier)
        assert reassort.ask_password(answer="non").status_code == 401
        locked = reassort.ask_password(answer="non")
        assert locked.status_code == 429 and LOCKED in text(locked)
        assert reassort.ask_password().status_code == 429
        assert types(app) == [
            "reassort.requested",
            "reassort.failed",
            "reassort.requested",
            "reassort.failed",
            "reassort.locked",
            "reassort.throttled",
        ]


@pytest.fixture
def link(app, voters) -> tuple[Voter, str]:
    voter = voters.create()
    _, reassort = start(app, voter.identifier)
    response = reassort.ask_password(identity="2850721231")
    assert response.status_code == 200
    assert "Un lien vient de vous être envoyé par e-mail à <strong>c•••@example.org</strong>" in text(response)
    [message] = outbox_messages(app)
    assert message.recipient == PERSONAL_EMAIL
    assert message.subject == "Portail Élections : votre lien pour choisir un nouveau mot de passe Élections"
    return voter, last_link(app)


def test_opening_the_link_changes_nothing(app, link):
    voter, path = link
    page = app.test_client().get(path)
    assert page.status_code == 200 and "Choix d'un nouveau mot de passe Élections" in text(page)
    with get_db(app).transaction() as session:
        assert session.execute(select(OneTimeLink.used_at)).scalar_one() is None
    browser, _ = start(app, voter.identifier)
    assert AuthActions(browser).submit_password(DEFAULT_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("court", None, "Le mot de passe doit contenir au moins 12 caractères."),
        ("motdepasse123", None, "Ce mot de passe est trop courant"),
        ("camille.testeur1 2022 !", None, "ne doit pas contenir votre identifiant"),
        (NEW_PASSWORD, "autre chose", "Les deux mots de passe ne sont pas identiques."),
    ],
)
def test_the_new_password_follows_the_policy_and_the_link_survives_a_refusal(app, link, password, confirm, message):
    _, path = link
    browser = app.test_client()
    response = set_password(browser, path, password, confirm)
    assert response.status_code == 400 and message in text(response)
    assert set_password(browser, path, NEW_PASSWORD).status_code == 200


def test_a_new_password_ends_every_session_of_the_voter(app, link):
    voter, path = link
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        AuthActions(browser).login(voter.identifier)
        assert browser.get("/").status_code == 200
    assert laptop.get("/login/vote-code").status_code == 200

    done = set_password(app.test_client(), path, NEW_PASSWORD)
    assert done.status_code == 200
    assert "Votre mot de passe Élections a été modifié" in text(done)
    assert "Toutes vos sessions ouvertes ont été fermées." in text(done)

    for browser in (laptop, phone):
        assert browser.get("/").headers["Location"] == "/login"
    assert laptop.get("/login/vote-code").headers["Location"].startswith("/login?")
    old, _ = start(app, voter.identifier)
    assert AuthActions(old).submit_password(DEFAULT_PASSWORD).status_code == 401
    new, _ = start(app, voter.identifier)
    assert AuthActions(new).submit_password(NEW_PASSWORD).status_code == 302
    changed = next(e for e in events(app) if e.type == "reassort.password_changed")
    assert changed.subject == voter.subject and data_of(changed)["channel"] == "email"


def test_the_link_is_single_use(app, link):
    _, path = link
    assert set_password(app.test_client(), path, NEW_PASSWORD).status_code == 200
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "saisissez votre identifiant, puis cliquez sur « Besoin du réassort" in text(again)
    assert '<a class="fr-btn" href="/login/restart">Faire une nouvelle demande</a>' in text(again)


def test_a_password_link_gives_no_vote_code(app, link):
    _, path = link
    assert app.test_client().get(path.replace("/mot-de-passe/lien/", "/code/lien/")).status_code == 410


def test_the_password_request_sends_by_sms_too(app, voters):
    _, reassort = start(app, voters.create().identifier)
    assert reassort.ask_password(channel="sms", phone="07 00 00 00 00", email="").status_code == 200
    [message] = outbox_messages(app)
    assert (message.channel, message.recipient) == ("sms", "0700000000")
    assert "nouveau mot de passe Élections" in message.body and "/reassort/mot-de-passe/lien/S" in message.body
