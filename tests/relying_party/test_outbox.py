"""``portal deliver``: the outbox reaches a real SMTP server on loopback; failures are retried later."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from relying_party.cli import main
from relying_party.db import get_db
from relying_party.models import OutboxMessage, utcnow
from tests.delivery_servers import SmtpServer
from tests.relying_party.helpers import captcha_fields, csrf_of


def _ask_for_help(client: FlaskClient) -> None:
    page = client.get("/assistance")
    response = client.post(
        "/assistance",
        data={
            "csrf_token": csrf_of(page),
            **captcha_fields(page),
            "contact_name": "Camille Exemple",
            "contact_email": "camille@exemple.fr",
            "topic": "identifiant",
            "message": "Je ne connais pas mon identifiant électeur.",
        },
    )
    assert response.status_code == 200


def _deliver(app: Flask, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PORTAL_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("PORTAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("PORTAL_SUPPORT_EMAIL", app.config["SUPPORT_EMAIL"])
    result = CliRunner().invoke(main, ["deliver"])
    assert result.exit_code == 0, result.output
    return result.output


def _message(app: Flask) -> OutboxMessage:
    with get_db(app).reader() as session:
        return session.execute(select(OutboxMessage)).scalar_one()


def test_deliver_sends_to_support(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _ask_for_help(client)
    with SmtpServer() as smtp:
        output = _deliver(app, smtp, monkeypatch)
        received = smtp.received
    assert "1 envoyé(s)" in output
    assert len(received) == 1
    mail = received[0].message
    assert mail["To"] == app.config["SUPPORT_EMAIL"]
    assert mail["Subject"].startswith("[Portail Élections] Demande d'assistance AST-")
    assert "Je ne connais pas mon identifiant électeur." in mail.get_content()
    assert _message(app).status == "sent"


def test_failure_is_retried_later(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _ask_for_help(client)
    with SmtpServer() as smtp:
        smtp.handler.fail_data = 1
        assert "1 à réessayer" in _deliver(app, smtp, monkeypatch)
        message = _message(app)
        assert (message.status, message.attempts, message.last_error) == ("pending", 1, "SMTPDataError")
        assert message.next_attempt_at > utcnow()
        assert "0 envoyé(s)" in _deliver(app, smtp, monkeypatch), "not due yet"
        with get_db(app).transaction() as session:
            session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        assert "1 envoyé(s)" in _deliver(app, smtp, monkeypatch)
        assert len(smtp.received) == 1
    assert _message(app).status == "sent"
