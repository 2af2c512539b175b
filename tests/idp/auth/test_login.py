"""Sign-in: identifier + CAPTCHA, then the election password (seed steps 2 and 3)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.db import get_db
from idp.models import AuditEvent, Voter
from tests.helpers import DEFAULT_PASSWORD, captcha_id_of, csrf_of

UNIFORM_FAILURE = "Identifiant ou mot de passe Élections incorrect."


def audit_types(app) -> list[str]:
    with get_db(app).transaction() as session:
        return list(session.execute(select(AuditEvent.type).order_by(AuditEvent.id)).scalars())


def test_identifier_page_offers_image_and_audio_captcha(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Accès au portail Élections" in html
    challenge = captcha_id_of(page)
    assert f"/captcha/{challenge}.png" in html
    assert f"/captcha/{challenge}.wav" in html
    assert "Vous ne connaissez pas votre identifiant ?" in html


def test_login_with_password_opens_a_session(client, voters, auth, app):
    voter = voters.create()
    response = auth.login(voter.identifier)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Vous êtes connecté(e)" in client.get("/").get_data(as_text=True)
    assert "login.succeeded" in audit_types(app)


def test_identifier_is_case_and_space_insensitive(client, voters, auth):
    voter = voters.create("alex.martin@ac-exemple.fr")
    assert auth.submit_identifier("  Alex.Martin@AC-Exemple.fr ").status_code == 302
    assert auth.submit_password(DEFAULT_PASSWORD).status_code == 302
    assert voter.identifier == "alex.martin@ac-exemple.fr"


def test_wrong_captcha_is_refused_with_a_new_one(client, voters, auth):
    voter = voters.create()
    response = auth.submit_identifier(voter.identifier, captcha="99999")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "CAPTCHA" in html and "incorrect ou a expiré" in html
    # The voter is not let through to the password step.
    assert client.get("/login/password").status_code == 302


def test_captcha_answer_is_single_use(client, voters):
    """The answered challenge identifies nobody else (the same form sent again by the same browser is a double
    click, answered as the first: test_identifier_twin.py)."""
    voter, other = voters.create(), voters.create()
    page = client.get("/login")
    form = {
        "csrf_token": csrf_of(page),
        "identifier": voter.identifier,
        "captcha_id": captcha_id_of(page),
        "captcha": "12345",
    }
    assert client.post("/login", data=form).status_code == 302
    replay = client.post("/login", data={**form, "identifier": other.identifier})
    assert replay.status_code == 400


def test_malformed_identifier_gets_a_french_message(client, auth):
    response = auth.submit_identifier("not an address")
    assert response.status_code == 400
    assert "adresse de messagerie académique" in response.get_data(as_text=True)


def _normalised(html: str) -> str:
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    return re.sub(r"<strong>[^<]*@[^<]*</strong>", "<strong></strong>", html)


def test_unknown_identifier_looks_exactly_like_a_known_one(client, voters, auth, app):
    voter = voters.create()
    known_step = auth.submit_identifier(voter.identifier)
    known_page = client.get("/login/password").get_data(as_text=True)
    known = auth.submit_password("wrong password 123")
    client.get("/login/restart")
    unknown_step = auth.submit_identifier("personne.inconnue@ac-exemple.fr")
    unknown_page = client.get("/login/password").get_data(as_text=True)
    unknown = auth.submit_password("wrong password 123")
    assert known_step.status_code == unknown_step.status_code == 302
    assert _normalised(known_page) == _normalised(unknown_page)
    assert known.status_code == unknown.status_code == 401
    assert _normalised(known.get_data(as_text=True)) == _normalised(unknown.get_data(as_text=True))
    assert UNIFORM_FAILURE in unknown.get_data(as_text=True)


def test_account_not_activated_fails_like_a_wrong_password(client, voters, auth):
    voter = voters.create(password=None)
    response = auth.login(voter.identifier, "any password at all")
    assert response.status_code == 401
    assert UNIFORM_FAILURE in response.get_data(as_text=True)


def test_password_step_without_identifier_goes_back(client):
    response = client.get("/login/password")
    assert response.status_code == 302
    assert "/login?expired=1" in response.headers["Location"]


def test_next_must_be_a_local_path(client, voters, auth):
    voter = voters.create()
    client.get("/login?next=//evil.example/steal")
    response = auth.login(voter.identifier)
    assert response.headers["Location"] == "/"
    client.get("/login/restart")
    client.post("/logout")
    client.get("/login?next=/authorize/resume?tx=abc")
    response = auth.login(voter.identifier)
    assert response.headers["Location"] == "/authorize/resume?tx=abc"


def test_login_hint_prefills_the_identifier(client):
    html = client.get("/login?login_hint=camille.exemple@ac-exemple.fr").get_data(as_text=True)
    assert 'value="camille.exemple@ac-exemple.fr"' in html


def test_rehash_on_sign_in_when_parameters_change(app, voters, client, auth):
    voter = voters.create()
    app.extensions["idp.hasher"].__init__(2, 2048, 1)  # the operator raised the argon2 parameters
    assert auth.login(voter.identifier).status_code == 302
    with get_db(app).transaction() as session:
        stored = session.execute(select(Voter.password_hash).where(Voter.id == voter.id)).scalar_one()
    assert "m=2048,t=2,p=1" in stored
    assert "password.rehashed" in audit_types(app)


@pytest.mark.parametrize("path", ["/login", "/login/password", "/login/activation", "/logout"])
def test_forms_refuse_posts_without_csrf_token(client, path):
    client.get("/login")  # a session exists, so the refusal is about the missing token, not a missing session
    response = client.post(path, data={"identifier": "x@ac-exemple.fr", "password": "x"})
    assert response.status_code == 400
    assert "Votre page a expiré" in response.get_data(as_text=True)
