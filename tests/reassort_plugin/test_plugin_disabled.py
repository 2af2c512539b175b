"""With the plugin not enabled (the IdP's default), the IdP runs, signs voters in, and shows no réassort link."""

from __future__ import annotations

from typing import Any

import pytest

from idp.plugins import EXTENSION_KEY


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PLUGINS": ""}


def test_the_idp_runs_without_the_plugin_and_its_links_are_absent(app, client, voters, auth):
    assert app.extensions[EXTENSION_KEY].enabled == []
    assert "reassort" not in app.blueprints
    voter = voters.create()
    auth.submit_identifier(voter.identifier)
    password_page = client.get("/login/password").get_data(as_text=True)
    assert "Saisie du mot de passe Élections" in password_page
    assert "réassort" not in password_page and "plugin-links" not in password_page
    assert auth.submit_password("correct horse battery staple 42").status_code == 302
    vote_code_page = client.get("/login/vote-code").get_data(as_text=True)
    assert "Saisie du code de vote" in vote_code_page
    assert "réassort" not in vote_code_page and "plugin-links" not in vote_code_page
    for path in ("/reassort/code", "/reassort/code/defi", "/reassort/mot-de-passe", "/reassort/code/lien/Eabc"):
        assert client.get(path).status_code == 404
