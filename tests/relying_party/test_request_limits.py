"""« Formulaire de demande d'assistance » and « Formuler une réclamation » cannot be flooded (issue: 30 anonymous
posts in 0.2 s created 30 requests and 30 mails): an anonymous post needs the CAPTCHA (single use), and requests
are limited per client address and per voter; a refused post stores nothing and sends nothing, and says why in
French."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from relying_party.db import get_db
from relying_party.models import Complaint, OutboxMessage, SupportRequest, utcnow
from tests.relying_party.helpers import captcha_fields, csrf_of, load, sign_in, standard_document, text_of

TOO_MANY = "Trop de demandes ont été envoyées depuis votre connexion en peu de temps."
WRONG_CAPTCHA = "Le code de sécurité (CAPTCHA) est incorrect ou a expiré."
HELP = {
    "contact_name": "Camille Exemple",
    "contact_email": "camille@exemple.fr",
    "topic": "identifiant",
    "message": "Je ne connais pas mon identifiant électeur.",
}


@pytest.fixture
def portal_config(portal_config: dict[str, Any]) -> dict[str, Any]:
    return {**portal_config, "REQUESTS_PER_ADDRESS": 5, "REQUESTS_PER_VOTER": 3}


def count(app: Flask, model: Any) -> int:
    with get_db(app).reader() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_an_anonymous_request_needs_the_captcha_once(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/assistance")
    assert "Veuillez saisir le CAPTCHA ci-dessous" in text_of(page)
    wrong = client.post(
        "/assistance", data={"csrf_token": csrf_of(page), **captcha_fields(page), **HELP, "captcha": "0"}
    )
    assert wrong.status_code == 400 and WRONG_CAPTCHA in text_of(wrong)
    missing = client.post("/assistance", data={"csrf_token": csrf_of(page), **HELP})
    assert missing.status_code == 400
    fields = captcha_fields(page)
    assert client.post("/assistance", data={"csrf_token": csrf_of(page), **fields, **HELP}).status_code == 400, (
        "the challenge was used up by the wrong answer"
    )
    page = client.get("/assistance")
    fields = captcha_fields(page)
    assert client.post("/assistance", data={"csrf_token": csrf_of(page), **fields, **HELP}).status_code == 200
    replay = client.post("/assistance", data={"csrf_token": csrf_of(page), **fields, **HELP})
    assert replay.status_code == 400, "a solved CAPTCHA is not accepted twice"
    assert count(app, SupportRequest) == count(app, OutboxMessage) == 1


def test_a_signed_in_voter_has_no_captcha(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, app)
    page = client.get("/assistance")
    assert "CAPTCHA" not in text_of(page)
    assert client.post("/assistance", data={"csrf_token": csrf_of(page), **HELP}).status_code == 200


def test_thirty_simultaneous_posts_from_one_address_file_only_the_limit(app: Flask) -> None:
    ready = []
    for _ in range(30):
        client = app.test_client()
        page = client.get("/assistance")
        ready.append((client, {"csrf_token": csrf_of(page), **captcha_fields(page), **HELP}))
    barrier = threading.Barrier(len(ready))
    statuses: list[int] = []

    def post(client: Any, data: dict[str, str]) -> None:
        barrier.wait()
        statuses.append(client.post("/assistance", data=data).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in ready]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [429] * 25
    assert count(app, SupportRequest) == count(app, OutboxMessage) == 5
    client, _data = ready[0]
    page = client.get("/assistance")
    refused = client.post("/assistance", data={"csrf_token": csrf_of(page), **captcha_fields(page), **HELP})
    assert refused.status_code == 429 and TOO_MANY in text_of(refused)


def test_complaints_are_limited_per_voter(app: Flask) -> None:
    load(app, standard_document(utcnow()))
    client = app.test_client()
    sign_in(client, app)
    statuses = []
    for n in range(5):
        page = client.get("/mes-scrutins/reclamation")
        data = {
            "csrf_token": csrf_of(page),
            "scrutin": "OPEN",
            "topic": "inscription",
            "message": f"Réclamation {n} fictive.",
        }
        response = client.post("/mes-scrutins/reclamation", data=data)
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert TOO_MANY in text_of(response)
    assert count(app, Complaint) == 3
