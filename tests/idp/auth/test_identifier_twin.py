"""The identifier form sent twice (a double click): the second POST, often answered after the first, carries the
same CAPTCHA challenge and answer, which the first used up. It is answered as the first was (on to the password
page), once and only for the same browser's session, the same identifier, challenge and answer, within
``transaction.TWIN_WINDOW`` seconds; anything else still fails on its CAPTCHA."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.auth import transaction
from idp.db import get_db
from idp.models import AuditEvent
from tests.helpers import TEST_CAPTCHA, VoterFactory, captcha_id_of, csrf_of


def _form(client: FlaskClient, identifier: str) -> dict[str, str]:
    page = client.get("/login")
    return {
        "csrf_token": csrf_of(page),
        "identifier": identifier,
        "captcha_id": captcha_id_of(page),
        "captcha": TEST_CAPTCHA,
    }


def _events(app: Flask) -> Counter[str]:
    with get_db(app).transaction() as session:
        return Counter(session.execute(select(AuditEvent.type)).scalars())


def test_the_form_sent_again_is_answered_as_the_first(app: Flask, client: FlaskClient, voters: VoterFactory) -> None:
    voter = voters.create()
    form = _form(client, voter.identifier)
    first = client.post("/login", data=form)
    second = client.post("/login", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == "/login/password"
    page = client.get("/login/password")
    assert page.status_code == 200 and voter.identifier in page.get_data(as_text=True)
    # One submission, audited once.
    events = _events(app)
    assert events["login.identifier_accepted"] == 1 and events["login.identifier_rejected"] == 0


def test_another_identifier_with_the_used_challenge_fails(
    app: Flask, client: FlaskClient, voters: VoterFactory
) -> None:
    voter, other = voters.create(), voters.create()
    form = _form(client, voter.identifier)
    assert client.post("/login", data=form).status_code == 302
    again = client.post("/login", data={**form, "identifier": other.identifier})
    assert again.status_code == 400
    assert _events(app)["login.identifier_rejected"] == 1


def test_another_browser_sending_the_same_challenge_and_answer_fails(
    app: Flask, client: FlaskClient, voters: VoterFactory
) -> None:
    voter = voters.create()
    form = _form(client, voter.identifier)
    assert client.post("/login", data=form).status_code == 302
    elsewhere = app.test_client()
    own = _form(elsewhere, voter.identifier)
    replay = elsewhere.post("/login", data={**own, "captcha_id": form["captcha_id"]})
    assert replay.status_code == 400


def test_the_same_form_after_the_window_fails_on_its_captcha(
    client: FlaskClient, voters: VoterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    voter = voters.create()
    form = _form(client, voter.identifier)
    assert client.post("/login", data=form).status_code == 302
    later = time.time() + transaction.TWIN_WINDOW + 1
    monkeypatch.setattr(transaction.time, "time", lambda: later)
    assert client.post("/login", data=form).status_code == 400
