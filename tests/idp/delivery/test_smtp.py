"""E-mail delivery through SMTP, against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.delivery import Message
from idp.delivery.worker import run_once
from idp.models import utcnow
from tests.delivery_servers import (
    SmtpServer,
    audit_events,
    free_port,
    outbox_row,
    password_authenticator,
    queue,
    self_signed_certificate,
    server_tls_context,
    update_row,
)

RECIPIENT = "camille.testeur@ac-exemple.fr"
SUBJECT = "Portail Élections : activez votre compte"
BODY = (
    "Bonjour,\n\nPour activer votre compte électeur, ouvrez le lien ci-dessous (valable 24 heures) :\n\n"
    "http://localhost/activation/jeton-fictif\n\nÀ bientôt, l'équipe « Élections ».\n"
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpServer) -> dict[str, Any]:
    return {**app_config, **smtp.config()}


def test_email_is_delivered_as_utf8_mime(app, smtp):
    [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

    assert run_once(app) == 1

    [received] = smtp.received
    assert received.rcpt_tos == [RECIPIENT]
    assert received.mail_from == "ne-pas-repondre@elections.example.gouv.fr"
    email = received.message
    assert email["To"] == RECIPIENT
    assert email["Subject"] == SUBJECT
    assert email["From"].addresses[0].display_name == "Portail Élections"
    assert email.get_content_type() == "text/plain"
    assert email.get_content_charset() == "utf-8"
    assert email.get_content().replace("\r\n", "\n") == BODY  # CRLF on the wire
    assert email["Message-ID"].endswith("@elections.example.gouv.fr>")
    assert abs(email["Date"].datetime - utcnow()) < dt.timedelta(minutes=1)
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.attempts) == ("sent", None, 1)


def test_temporary_smtp_failure_is_retried_later(app, smtp):
    smtp.handler.fail_data = 1  # the server answers 451 to the first DATA
    [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, None)
    assert row.payload is not None
    assert row.last_error == "SMTP data refused 451"
    base = app.config["DELIVERY_RETRY_BASE"]
    assert dt.timedelta(seconds=base - 2) < row.next_attempt_at - utcnow() <= dt.timedelta(seconds=base)
    assert smtp.received == []
    # Not due yet: a run right now leaves it alone.
    assert run_once(app) == 0

    update_row(app, message_id, next_attempt_at=utcnow() - dt.timedelta(seconds=1))  # time passes
    assert run_once(app) == 1
    assert [r.rcpt_tos for r in smtp.received] == [[RECIPIENT]]
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts, row.payload) == ("sent", 2, None)
    events = [(e.type, json.loads(e.data)) for e in audit_events(app)]
    assert [t for t, _ in events] == ["message.queued", "message.retry", "message.sent"]
    assert events[1][1]["reason"] == "SMTP data refused 451"
    assert events[1][1]["retry_in"] == base
    assert events[2][1]["attempts"] == 2


def test_refused_recipient_fails_at_once_and_erases_payload(app, smtp):
    smtp.handler.unknown_recipients.add(RECIPIENT)
    [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.attempts) == ("failed", None, 1)
    assert row.last_error == "SMTP recipient refused 550"
    assert [e.type for e in audit_events(app)] == ["message.queued", "message.failed"]


def test_attempts_are_bounded(app, smtp):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 2
    smtp.handler.fail_data = 10
    [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

    assert run_once(app) == 1
    update_row(app, message_id, next_attempt_at=utcnow() - dt.timedelta(seconds=1))
    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.attempts) == ("failed", None, 2)
    assert [e.type for e in audit_events(app)] == ["message.queued", "message.retry", "message.failed"]


def test_unreachable_server_is_a_temporary_failure(app):
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "SMTP ConnectionRefusedError"


def test_header_injection_is_refused_permanently(app, smtp):
    [message_id] = queue(app, Message("email", RECIPIENT + "\nBcc: autre@exemple.invalid", SUBJECT, BODY))

    assert run_once(app) == 1
    assert smtp.received == []
    assert outbox_row(app, message_id).status == "failed"


# --- TLS and authentication -------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the test relay's certificate, the way an operator adds an internal CA (OpenSSL's SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def secure_relay(certificate: tuple[Path, Path], *, implicit: bool) -> SmtpServer:
    context = server_tls_context(*certificate)
    # aiosmtpd only counts STARTTLS as TLS for its "AUTH needs TLS" rule, hence auth_require_tls=False when implicit.
    tls: dict[str, Any] = (
        {"ssl_context": context, "auth_require_tls": False}
        if implicit
        else {"tls_context": context, "require_starttls": True}
    )
    return SmtpServer(authenticator=password_authenticator("portail", "mot-de-passe-de-test"), **tls)


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "ssl"])
def test_tls_and_authentication(app, certificate, trusted, implicit):
    with secure_relay(certificate, implicit=implicit) as relay:
        app.config.update(
            relay.config(),
            SMTP_STARTTLS=not implicit,
            SMTP_SSL=implicit,
            SMTP_USERNAME="portail",
            SMTP_PASSWORD="mot-de-passe-de-test",
        )
        [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

        assert run_once(app) == 1
        [received] = relay.received
    assert (received.tls, received.authenticated, received.rcpt_tos) == (True, True, [RECIPIENT])
    assert outbox_row(app, message_id).status == "sent"


def test_refused_credentials_are_retried_not_abandoned(app, certificate, trusted):
    with secure_relay(certificate, implicit=False) as relay:
        app.config.update(
            relay.config(), SMTP_STARTTLS=True, SMTP_USERNAME="portail", SMTP_PASSWORD="mauvais-mot-de-passe"
        )
        [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

        run_once(app)
        assert relay.received == []
    row = outbox_row(app, message_id)
    assert (row.status, row.last_error) == ("pending", "SMTP SMTPAuthenticationError 535")


def test_untrusted_relay_certificate_is_refused(app, certificate):
    with secure_relay(certificate, implicit=False) as relay:
        app.config.update(relay.config(), SMTP_STARTTLS=True)
        [message_id] = queue(app, Message("email", RECIPIENT, SUBJECT, BODY))

        run_once(app)
        assert relay.received == []
    row = outbox_row(app, message_id)
    assert (row.status, row.last_error) == ("pending", "SMTP SSLCertVerificationError")
