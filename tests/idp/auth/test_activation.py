"""Account activation: a single-use link to the academic mailbox, then password + question défi (seed step 3)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from idp.db import get_db
from idp.models import AuditEvent, OneTimeLink, OutboxMessage, Voter
from tests.helpers import csrf_of, delivered_messages, link_path_in

NEW_PASSWORD = "une phrase de passe bien longue 7"
SENT_TEXT = "Si cet identifiant correspond à un compte électeur qui n'est pas encore activé"


def ask_for_link(client, auth, identifier: str):
    auth.submit_identifier(identifier)
    page = client.get("/login/password")
    return client.post("/login/activation", data={"csrf_token": csrf_of(page)})


def activation_form(
    password: str = NEW_PASSWORD,
    confirm: str | None = None,
    question: str = "football_team",
    answer: str = "Les Canaris de Nulle-Part",
) -> dict[str, str]:
    return {
        "password": password,
        "password_confirm": confirm if confirm is not None else password,
        "question": question,
        "answer": answer,
    }


def count(app, model, *where) -> int:
    with get_db(app).transaction() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture
def link(app, client, auth, voters) -> tuple[Voter, str]:
    voter = voters.create("dominique.nouveau@ac-exemple.fr", password=None)
    response = ask_for_link(client, auth, voter.identifier)
    assert SENT_TEXT in response.get_data(as_text=True)
    [message] = delivered_messages(app)
    assert message.recipient == voter.identifier and message.channel == "email"
    return voter, link_path_in(message.body)


def test_activation_then_sign_in(app, client, auth, link):
    voter, path = link
    page = client.get(path)
    assert page.status_code == 200
    assert "Activation de votre compte électeur" in page.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_of(page), **activation_form()})
    assert done.status_code == 200
    assert "Votre compte est activé" in done.get_data(as_text=True)
    client.get("/login/restart")
    assert auth.login(voter.identifier, NEW_PASSWORD).status_code == 302
    with get_db(app).transaction() as session:
        stored = session.get(Voter, voter.id)
        assert stored.challenge_question == "football_team"
        assert stored.challenge_answer_hash.startswith("$argon2id$")
        assert stored.activated_at is not None
    assert count(app, AuditEvent, AuditEvent.type == "activation.completed") == 1


def test_the_page_and_the_mail_say_how_long_the_link_lives_in_french(app, client, auth, voters):
    """« 24 heures », not « 24 heure(s) »: the link's lifetime is written with Babel's French plurals."""
    voter = voters.create("camille.duree@ac-exemple.fr", password=None)
    page = ask_for_link(client, auth, voter.identifier).get_data(as_text=True)
    [message] = delivered_messages(app)
    assert "Il est valable 24\u00a0heures." in page and "heure(s)" not in page
    assert "Il est valable 24\u00a0heures et ne peut servir qu'une fois" in message.body and "(s)" not in message.body


def test_opening_the_link_changes_nothing(app, client, link):
    _, path = link
    for _ in range(3):  # a mail scanner pre-fetching the link
        assert client.get(path).status_code == 200
    assert count(app, OneTimeLink, OneTimeLink.used_at.is_not(None)) == 0


def test_link_is_single_use(app, client, link):
    _, path = link
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_of(page), **activation_form()})
    again = client.get(path)
    assert again.status_code == 410
    assert "Ce lien n'est plus valide" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (activation_form("court"), "au moins 12 caractères"),
        (activation_form("azertyuiop123"), "trop courant"),
        (activation_form("password1234"), "trop courant"),
        (activation_form("dominique.nouveau 2024!"), "identifiant"),
        (activation_form(confirm="autre chose encore 99"), "pas identiques"),
        (activation_form(question="not-a-question"), "question"),
        (activation_form(answer=""), "obligatoire"),
    ],
)
def test_password_policy_and_form_errors_keep_the_link(app, client, link, form, message):
    _, path = link
    page = client.get(path)
    response = client.post(path, data={"csrf_token": csrf_of(page), **form})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html
    assert count(app, OneTimeLink, OneTimeLink.used_at.is_not(None)) == 0


def test_long_passwords_are_not_truncated(app, client, auth, link):
    voter, path = link
    long_password = "Une très longue phrase de passe " * 3  # 96 characters: beyond bcrypt's 72-byte limit
    page = client.get(path)
    client.post(path, data={"csrf_token": csrf_of(page), **activation_form(long_password)})
    client.get("/login/restart")
    assert auth.login(voter.identifier, long_password[:80]).status_code == 401
    client.get("/login/restart")
    assert auth.login(voter.identifier, long_password).status_code == 302


def test_unknown_identifier_gets_the_same_page_and_nothing_is_sent(app, client, auth):
    response = ask_for_link(client, auth, "personne.inconnue@ac-exemple.fr")
    assert response.status_code == 200
    assert SENT_TEXT in response.get_data(as_text=True)
    assert delivered_messages(app) == []
    assert count(app, OutboxMessage, OutboxMessage.status == "discarded") == count(app, OutboxMessage) == 1
    assert count(app, OutboxMessage, OutboxMessage.payload.is_not(None)) == 0, "the request is erased too"


def test_activated_voter_is_told_by_mail_not_on_screen(app, client, auth, voters):
    voter = voters.create()
    response = ask_for_link(client, auth, voter.identifier)
    assert SENT_TEXT in response.get_data(as_text=True)
    [message] = delivered_messages(app)
    assert "déjà activé" in message.body
    assert count(app, OneTimeLink) == 0


def test_activation_mails_are_rate_limited(app, client, auth, voters):
    voter = voters.create(password=None)
    for _ in range(5):
        ask_for_link(client, auth, voter.identifier)
    assert count(app, OutboxMessage) == 3


def test_concurrent_submissions_activate_once(app, link):
    """Ten browsers submit the same link at the same instant: exactly one wins."""
    _, path = link
    clients = [app.test_client() for _ in range(10)]
    tokens = [csrf_of(c.get(path)) for c in clients]
    barrier = threading.Barrier(len(clients))
    results: list[int] = []

    def submit(c, token) -> None:
        barrier.wait()
        results.append(c.post(path, data={"csrf_token": token, **activation_form()}).status_code)

    threads = [threading.Thread(target=submit, args=pair) for pair in zip(clients, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [410] * 9
    assert count(app, AuditEvent, AuditEvent.type == "activation.completed") == 1


def test_expired_link_is_refused(app, client, link):
    import datetime as dt

    from sqlalchemy import update

    _, path = link
    with get_db(app).transaction() as session:
        session.execute(update(OneTimeLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert client.get(path).status_code == 410
