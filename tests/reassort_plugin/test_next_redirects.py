"""The réassort notes the vote-code page's ``next`` to come back to it after « Générer un code »: no hostile value
is ever noted, so « Voter » never leads off the origin."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.hostile_locations import HOSTILE_LOCATIONS, assert_stays_on_origin
from tests.reassort_plugin.helpers import CODE_SHOWN


def test_the_vote_code_destination_noted_by_the_reassort_is_always_local(
    app: Flask, client: FlaskClient, signed_in: object
) -> None:
    for value in HOSTILE_LOCATIONS:
        page = client.get("/login/vote-code", query_string={"next": value})
        assert page.status_code == 200, repr(value)
        back = client.get(CODE_SHOWN)  # no code to show: straight back to the vote-code step
        assert_stays_on_origin(back, f"http://localhost{CODE_SHOWN}", value=value)
        assert back.status_code == 302 and back.headers["Location"] == "/login/vote-code", value
    client.get("/login/vote-code", query_string={"next": "/authorize?tx=abc"})
    assert client.get(CODE_SHOWN).headers["Location"] == "/login/vote-code?next=/authorize?tx%3Dabc"
