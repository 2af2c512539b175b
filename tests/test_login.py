from __future__ import annotations

from tests.helpers import DEFAULT_PASSWORD


def test_login_with_password(client, voters, auth):
    voter = voters.create()
    response = auth.login(voter.identifier)
    assert response.status_code == 302
    page = client.get("/")
    assert "Vous êtes connecté(e)" in page.get_data(as_text=True)


def test_wrong_password_is_refused(client, voters, auth):
    voter = voters.create()
    response = auth.login(voter.identifier, DEFAULT_PASSWORD + "x")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe Élections incorrect." in response.get_data(as_text=True)
