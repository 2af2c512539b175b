"""Helpers for multi-step flows (the ``AuthActions`` pattern of Flask's tutorial) and fictitious voters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.models import Voter, utcnow
from idp.security.hashing import SecretHasher
from idp.security.keyed import KeyedHasher
from idp.security.normalise import normalise_answer

TEST_CAPTCHA = "12345"
DEFAULT_PASSWORD = "correct horse battery staple 42"
DEFAULT_ANSWER = "Les Canaris de Nulle-Part"

_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_CAPTCHA_ID_RE = re.compile(r'name="captcha_id" type="hidden" value="([^"]+)"')


def csrf_of(response: TestResponse) -> str:
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token in the page"
    return match.group(1)


def captcha_id_of(response: TestResponse) -> str:
    match = _CAPTCHA_ID_RE.search(response.get_data(as_text=True))
    assert match, "no CAPTCHA on the page"
    return match.group(1)


@dataclass
class VoterFactory:
    """Creates fictitious voters directly in the database (the import has tests of its own)."""

    app: Flask
    counter: int = 0

    def create(
        self,
        identifier: str | None = None,
        *,
        password: str | None = DEFAULT_PASSWORD,
        answer: str = DEFAULT_ANSWER,
        numen: str = "12A3456789ABC",
        nir10: str = "2850721231",
        **fields: Any,
    ) -> Voter:
        self.counter += 1
        identifier = identifier or f"camille.testeur{self.counter}@ac-exemple.fr"
        cfg = self.app.config
        hasher = SecretHasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
        keyed = KeyedHasher(cfg["HMAC_KEY"])
        values: dict[str, Any] = {
            "identifier": identifier,
            "family_name": "TESTEUR",
            "first_names": "Camille",
            "birth_date": dt.date(1985, 7, 21),
            "birthplace": "21231",
            "gender": "F",
            "academie": "exemple",
            "numen_hash": keyed.digest("numen", numen),
            "nir_hash": keyed.digest("nir", nir10),
        }
        if password is not None:
            values.update(
                password_hash=hasher.hash(password),
                challenge_question="football_team",
                challenge_answer_hash=hasher.hash(normalise_answer(answer)),
                activated_at=utcnow(),
            )
        values.update(fields)
        with get_db(self.app).transaction() as session:
            voter = Voter(**values)
            session.add(voter)
        return voter


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def submit_identifier(self, identifier: str, captcha: str = TEST_CAPTCHA) -> TestResponse:
        page = self.client.get("/login")
        return self.client.post(
            "/login",
            data={
                "csrf_token": csrf_of(page),
                "identifier": identifier,
                "captcha_id": captcha_id_of(page),
                "captcha": captcha,
            },
        )

    def submit_password(self, password: str) -> TestResponse:
        page = self.client.get("/login/password")
        return self.client.post("/login/password", data={"csrf_token": csrf_of(page), "password": password})

    def login(self, identifier: str, password: str = DEFAULT_PASSWORD) -> TestResponse:
        first = self.submit_identifier(identifier)
        assert first.status_code == 302, first.get_data(as_text=True)
        return self.submit_password(password)


def outbox_messages(app: Flask) -> list[Any]:
    """The queued messages, decrypted (what the delivery worker would send)."""
    from sqlalchemy import select

    from idp.delivery.payload import fernet_for, unseal
    from idp.models import OutboxMessage

    fernet = fernet_for(app.config["SECRET_KEY"])
    with get_db(app).transaction() as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        return [unseal(fernet, row.payload) for row in rows if row.payload is not None]


def delivered_messages(app: Flask) -> list[Any]:
    """Run the delivery worker once, as ``idp deliver --once`` does (development outbox backend), and return
    every message delivered so far, oldest first. Messages the worker composes itself (the activation request)
    exist only from then on."""
    from sqlalchemy import select

    from idp.delivery.payload import Message
    from idp.delivery.worker import run_once
    from idp.models import DevMessage

    run_once(app)
    with get_db(app).transaction() as session:
        rows = session.execute(select(DevMessage).order_by(DevMessage.id)).scalars().all()
        return [Message(row.channel, row.recipient, row.subject, row.body) for row in rows]


def link_path_in(body: str) -> str:
    """The path of the first link of this site in a message body."""
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, f"no link in {body!r}"
    return match.group(1)
