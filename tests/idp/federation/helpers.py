"""Driving the federated route as a voter's browser would: the IdP through Flask's test client, the development
provider (a real server on 127.0.0.1) through ``requests``, the redirects between them carried by hand."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from idp.db import get_db
from idp.models import AuditEvent, Voter
from tests.helpers import VoterFactory

FC_CLIENT_ID = "portail-elections-idp-test"
FC_CLIENT_SECRET = "secret-de-test-du-portail-elections-0123456789"  # fictitious
#: The test IdP's PUBLIC_URL (tests/conftest.py), hence the addresses registered at the provider.
IDP_URL = "http://localhost"
CALLBACK = IDP_URL + "/federation/franceconnect/callback"
LOGGED_OUT = IDP_URL + "/federation/franceconnect/logged-out"
LOGIN_PATH = "/federation/franceconnect/login"

FC_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def fc_clients(callback: str = CALLBACK, logged_out: str = LOGGED_OUT) -> list[dict[str, Any]]:
    return [
        {
            "client_id": FC_CLIENT_ID,
            "client_name": "Portail Élections (essais)",
            "client_secret": FC_CLIENT_SECRET,
            "redirect_uris": [callback],
            "post_logout_redirect_uris": [logged_out],
            "sector": "portail-elections.test",
        }
    ]


def claire(voters: VoterFactory, **fields: Any) -> Voter:
    """The seed's voter, as the citizens file of the development provider describes her (claire-jullien)."""
    values: dict[str, Any] = {
        "family_name": "JULLIEN",
        "first_names": "Claire",
        "birth_date": dt.date(1985, 7, 21),
        "birthplace": "21231",
        "gender": "F",
        "academie": "dijon",
    }
    values.update(fields)
    return voters.create(values.pop("identifier", "claire.jullien@ac-dijon.fr"), **values)


def events(app: Flask, type_prefix: str = "federation.") -> list[dict[str, Any]]:
    """Audit events whose type starts with ``type_prefix``, oldest first: type, subject and data."""
    with app.app_context(), get_db(app).transaction() as session:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.type.startswith(type_prefix))
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
            .scalars()
            .all()
        )
        return [{"type": row.type, "subject": row.subject, **json.loads(row.data)} for row in rows]


def path_of(location: str) -> str:
    """The path and query of an address of the IdP (the test client speaks to it without host)."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class FederationActions:
    """The voter's browser: ``client`` for the IdP, a ``requests`` session for the provider."""

    client: FlaskClient
    browser: requests.Session

    def start(self) -> TestResponse:
        return self.client.get(LOGIN_PATH)

    def provider_page(self, authorize_url: str) -> requests.Response:
        page = self.browser.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text[:500]
        return page

    def pick(self, authorize_url: str, citizen: str, scenario: str = "aucun") -> str:
        """Choose ``citizen`` (and a scenario: none by default) on the provider's login page; the callback URL."""
        page = self.provider_page(authorize_url)
        match = FC_CSRF_RE.search(page.text)
        assert match, "no CSRF token on the provider's page"
        answer = self.browser.post(
            page.url,
            data={"csrf_token": match.group(1), "citizen": citizen, "scenario": scenario},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def callback(self, location: str) -> TestResponse:
        assert location.startswith(CALLBACK + "?"), location
        return self.client.get(path_of(location))

    def identify(self, citizen: str, scenario: str = "aucun", start_path: str = LOGIN_PATH) -> TestResponse:
        """The whole round trip: the IdP's answer to the provider's callback."""
        started = self.client.get(start_path)
        assert started.status_code == 302, started.get_data(as_text=True)[:500]
        return self.callback(self.pick(started.headers["Location"], citizen, scenario))
