"""Casting a ballot through the pages: confirmation, receipt, double click, refusals (window, vote-code level)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from relying_party.db import get_db
from relying_party.models import Ballot, Emargement, utcnow
from tests.relying_party.helpers import CLAIRE, csrf_of, list_ids, load, scrutin_id, sign_in, standard_document, text_of


def _counts(app: Flask) -> tuple[int, int]:
    with get_db(app).sessionmaker() as session:
        ballots = session.execute(select(func.count()).select_from(Ballot)).scalar_one()
        emargements = session.execute(select(func.count()).select_from(Emargement)).scalar_one()
    return int(ballots), int(emargements)


def _confirm(client: FlaskClient, code: str, choice: str) -> TestResponse:
    page = client.get(f"/je-vote/{code}")
    assert page.status_code == 200, page.status_code
    confirmation = client.post(f"/je-vote/{code}", data={"csrf_token": csrf_of(page), "choice": choice})
    assert confirmation.status_code == 200
    return confirmation


def test_vote_with_confirmation_and_receipt(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    first_list = list_ids(app, "OPEN")[0]
    confirmation = _confirm(client, "OPEN", str(first_list))
    body = text_of(confirmation)
    assert "Vous avez choisi : <strong>Liste n° 1 : Syndicat fictif A</strong>" in body
    assert _counts(app) == (0, 0), "the confirmation page casts nothing"
    cast = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": csrf_of(confirmation), "choice": str(first_list)})
    assert cast.status_code == 303 and cast.headers["Location"].endswith("/je-vote/OPEN/recu")
    receipt_page = text_of(client.get("/je-vote/OPEN/recu"))
    match = re.search(r'class="receipt-code">([A-Z0-9-]+)<', receipt_page)
    assert match, receipt_page
    with get_db(app).sessionmaker() as session:
        ballot = session.execute(select(Ballot)).scalar_one()
    assert ballot.receipt == match.group(1) and ballot.candidate_list_id == first_list
    assert _counts(app) == (1, 1)
    index = text_of(client.get("/je-vote"))
    assert "A voté" in index


def test_blank_vote(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    confirmation = _confirm(client, "OPEN", "blanc")
    assert "Vous avez choisi : <strong>Vote blanc</strong>" in text_of(confirmation)
    client.post("/je-vote/OPEN/bulletin", data={"csrf_token": csrf_of(confirmation), "choice": "blanc"})
    with get_db(app).sessionmaker() as session:
        assert session.execute(select(Ballot.candidate_list_id)).scalar_one() is None


def test_double_click_on_voter_is_harmless(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    confirmation = _confirm(client, "OPEN", "blanc")
    data = {"csrf_token": csrf_of(confirmation), "choice": "blanc"}
    first = client.post("/je-vote/OPEN/bulletin", data=data)
    second = client.post("/je-vote/OPEN/bulletin", data=data)
    assert first.status_code == 303
    assert second.status_code == 409
    text = text_of(second)
    assert "Votre vote a déjà été enregistré" in text and "Afficher mon reçu" in text
    assert _counts(app) == (1, 1)
    # The receipt of the first submission is still there for the voter.
    assert 'class="receipt-code"' in text_of(client.get("/je-vote/OPEN/recu"))


def test_choice_must_be_a_list_of_this_scrutin(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    other = list_ids(app, "OPEN2")[0]
    page = client.get("/je-vote/OPEN")
    refused = client.post("/je-vote/OPEN", data={"csrf_token": csrf_of(page), "choice": str(other)})
    assert refused.status_code == 400
    assert "Ce choix ne correspond à aucune liste de ce scrutin." in text_of(refused)
    forged = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": csrf_of(page), "choice": str(other)})
    assert forged.status_code == 303 and forged.headers["Location"].endswith("/je-vote/OPEN")
    assert _counts(app) == (0, 0)


def test_vote_refused_outside_the_window(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=10)
    closed = text_of(client.get("/je-vote/CLOSED"))
    assert "Le vote pour ce scrutin est clos : aucun bulletin ne peut plus être déposé." in closed
    future = text_of(client.get("/je-vote/FUTURE"))
    assert "Le vote pour ce scrutin n'est pas encore ouvert" in future
    token = csrf_of(client.get("/je-vote/OPEN"))
    for code in ("CLOSED", "FUTURE"):
        response = client.post(f"/je-vote/{code}/bulletin", data={"csrf_token": token, "choice": "blanc"})
        assert response.status_code == 403
        assert "Aucun bulletin ne peut être déposé" in text_of(response)
    assert _counts(app) == (0, 0)


def test_vote_requires_the_fresh_vote_code_level(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app)  # signed in with the password only
    page = client.get("/je-vote/OPEN")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/je-vote/code?next=")
    token = csrf_of(client.get("/mes-scrutins/reclamation"))
    refused = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "choice": "blanc"})
    assert refused.status_code == 403
    text = text_of(refused)
    assert "vous devez saisir le code de vote" in text and "aucun bulletin n'a été déposé" in text
    assert "Saisir mon code de vote" in text
    assert _counts(app) == (0, 0)


def test_stale_vote_code_level_is_refused_at_submission(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, vote_level_age=app.config["VOTE_LEVEL_TTL"] + 5)
    token = csrf_of(client.get("/mes-scrutins/reclamation"))
    refused = client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "choice": "blanc"})
    assert refused.status_code == 403
    assert _counts(app) == (0, 0)


def test_voter_not_on_the_roll_sees_no_ballot(app: Flask, client: FlaskClient) -> None:
    load(app, standard_document(utcnow()))
    sign_in(client, app, email="quelqu.un@ac-exemple.fr", vote_level_age=10)
    assert client.get("/je-vote/OPEN").status_code == 404
    token = csrf_of(client.get("/assistance"))
    assert client.post("/je-vote/OPEN/bulletin", data={"csrf_token": token, "choice": "blanc"}).status_code == 404
    assert _counts(app) == (0, 0)
    assert scrutin_id(app, "OPEN")  # the scrutin exists: refused because of the roll only
    assert CLAIRE not in text_of(client.get("/je-vote"))
