"""Steps of the réassort journeys (the ``AuthActions`` pattern) and the fictitious data they type."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.models import AuditEvent
from tests.helpers import DEFAULT_ANSWER, csrf_of, link_path_in, outbox_messages

NUMEN = "12A3456789ABC"  # VoterFactory's defaults
NIR10 = "2850721231"
#: ARCEP's range for fiction (never assigned), as in tests/delivery_servers.py.
MOBILE = "06 39 98 12 34"
PERSONAL_EMAIL = "camille.perso@example.org"

CODE_CHOICE = "/reassort/code"
CODE_REQUEST = "/reassort/code/defi"
CODE_SHOWN = "/reassort/code/nouveau-code"
PASSWORD_REQUEST = "/reassort/mot-de-passe"
_CODE_RE = re.compile(r'<p class="reassort-code"><span aria-hidden="true">([^<]+)</span>')
WRONG = "Les informations saisies ne permettent pas de donner suite à votre demande."
LOCKED = "le réassort est temporairement suspendu après plusieurs tentatives infructueuses"


class ReassortActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def _post(self, url: str, fields: dict[str, str]) -> TestResponse:
        page = self.client.get(url)
        # The form is shown with 200 even while the voter or the address is locked (it says so and when to retry):
        # only the POST answers 429.
        assert page.status_code == 200, (page.status_code, page.get_data(as_text=True)[:300])
        return self.client.post(url, data={"csrf_token": csrf_of(page), **fields})

    def ask_code(
        self,
        *,
        answer: str = DEFAULT_ANSWER,
        identity: str = NUMEN,
        channel: str = "email",
        email: str = PERSONAL_EMAIL,
        phone: str = "",
    ) -> TestResponse:
        return self._post(
            CODE_REQUEST, {"answer": answer, "identity": identity, "channel": channel, "email": email, "phone": phone}
        )

    def ask_password(
        self,
        *,
        question: str = "football_team",
        answer: str = DEFAULT_ANSWER,
        identity: str = NUMEN,
        channel: str = "email",
        email: str = PERSONAL_EMAIL,
        phone: str = "",
    ) -> TestResponse:
        return self._post(
            PASSWORD_REQUEST,
            {
                "question": question,
                "answer": answer,
                "identity": identity,
                "channel": channel,
                "email": email,
                "phone": phone,
            },
        )

    def generate(self, path: str) -> TestResponse:
        page = self.client.get(path)
        assert page.status_code == 200, page.status_code
        return self.client.post(path, data={"csrf_token": csrf_of(page)})

    def noted(self, *, ticked: bool = True) -> TestResponse:
        page = self.client.get(CODE_SHOWN)
        data = {"csrf_token": csrf_of(page)}
        if ticked:
            data["noted"] = "y"
        return self.client.post(CODE_SHOWN, data=data)


def last_link(app: Flask) -> str:
    """The path of the link in the last message queued."""
    return link_path_in(outbox_messages(app)[-1].body)


def shown_code(response: TestResponse) -> str:
    """The code displayed on the "Votre nouveau code de vote" page."""
    match = _CODE_RE.search(response.get_data(as_text=True))
    assert match, "no code on the page"
    return match.group(1)


def events(app: Flask, prefix: str = "reassort.") -> list[AuditEvent]:
    with get_db(app).sessionmaker() as session:
        rows = list(
            session.execute(
                select(AuditEvent).where(AuditEvent.type.like(prefix + "%")).order_by(AuditEvent.id)
            ).scalars()
        )
        session.expunge_all()
        return rows


def types(app: Flask, prefix: str = "reassort.") -> list[str]:
    return [e.type for e in events(app, prefix)]


def data_of(event: AuditEvent) -> dict[str, Any]:
    return dict(json.loads(event.data))
