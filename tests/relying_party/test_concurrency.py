"""Fifty simultaneous "Voter" submissions of one voter for one scrutin, over real HTTP: one ballot, one
émargement, one success, the others told the vote is already recorded, no server error."""

from __future__ import annotations

import json
import threading
from collections import Counter

import requests
from flask import Flask
from sqlalchemy import func, select

from relying_party.db import get_db
from relying_party.models import Ballot, Emargement, utcnow
from tests.relying_party.helpers import load, sign_in, standard_document
from tests.relying_party.live import LiveServer
from tests.relying_party.voting import ballot_page, ensure_key

SUBMISSIONS = 50


def test_fifty_concurrent_submissions_cast_one_ballot(app: Flask) -> None:
    load(app, standard_document(utcnow()))
    ensure_key(app, "OPEN")
    client = app.test_client()
    sid = sign_in(client, app, vote_level_age=10)
    page = ballot_page(client, "OPEN")
    token = page.csrf
    ballot = json.dumps(page.encrypt(2).to_json())
    barrier = threading.Barrier(SUBMISSIONS)
    statuses: list[int] = []
    lock = threading.Lock()

    with LiveServer(app) as server:

        def submit() -> None:
            with requests.Session() as http:
                http.cookies.set(app.config["SESSION_COOKIE_NAME"], sid)
                barrier.wait(timeout=30)
                response = http.post(
                    f"{server.url}/je-vote/OPEN/bulletin",
                    data={"csrf_token": token, "ballot": ballot},
                    allow_redirects=False,
                    timeout=60,
                )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert Counter(statuses) == {303: 1, 409: SUBMISSIONS - 1}, Counter(statuses)
    with get_db(app).reader() as session:
        assert session.execute(select(func.count()).select_from(Ballot)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Emargement)).scalar_one() == 1
