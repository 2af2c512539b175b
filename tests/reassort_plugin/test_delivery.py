"""The réassort links through the real delivery path: the outbox, the worker, a real SMTP server (aiosmtpd) and a
Twilio-style SMS gateway on 127.0.0.1. Afterwards the personal address or phone number is nowhere: not in any
table (the outbox included), the audit log, the ephemeral store or the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select

from idp.db import get_db
from idp.delivery.worker import run_once
from idp.models import OutboxMessage
from tests.delivery_servers import SmsGateway, SmtpServer
from tests.helpers import link_path_in
from tests.idp.test_no_secret_leaks import every_text_in_tables, store_dump
from tests.reassort_plugin.helpers import CODE_SHOWN, PERSONAL_EMAIL, ReassortActions, shown_code

#: ARCEP's fiction block (06 39 98 …, in Mayotte's range: the gateway gets +262).
MOBILE_TYPED = "+33 6 39 98 56 78"
MOBILE_FORMS = ("+33 6 39 98 56 78", "0639985678", "06 39 98 56 78", "+262639985678", "+33639985678", "639985678")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpServer, gateway: SmsGateway) -> dict[str, Any]:
    return {**app_config, **smtp.config(), **gateway.config()}


def everything(app, caplog) -> str:
    """Every table, the store, and every log line of this process except the test relay's own (``mail.log`` is
    aiosmtpd, standing for the mail operator, which is the one party meant to see the address)."""
    tables = [t for t in inspect(get_db(app).engine).get_table_names() if t != "alembic_version"]
    logs = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.name != "mail.log"]
    assert any(r.name.startswith("idp.") for r in caplog.records)  # the IdP's own logs are captured
    return "\n".join([every_text_in_tables(app, tables), store_dump(app), *logs])


def outbox_rows(app) -> list[tuple[str, str, bytes | None]]:
    with get_db(app).transaction() as session:
        return [(r.status, r.channel, r.payload) for r in session.execute(select(OutboxMessage)).scalars()]


def test_email_link_goes_through_smtp_and_the_address_is_kept_nowhere(app, client, signed_in, reassort, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    assert reassort.ask_code().status_code == 200
    # The request did not wait for delivery: nothing has reached the relay yet, the message waits in the outbox.
    assert smtp.received == []
    [(status, channel, payload)] = outbox_rows(app)
    assert (status, channel) == ("pending", "email") and payload is not None
    assert PERSONAL_EMAIL.encode() not in payload  # encrypted at rest until delivered

    assert run_once(app) == 1
    [received] = smtp.received
    assert received.rcpt_tos == [PERSONAL_EMAIL]
    assert received.message["Subject"] == "Portail Élections : votre lien pour obtenir un nouveau code de vote"
    path = link_path_in(received.message.get_content())
    assert path.startswith("/reassort/code/lien/E")

    phone = app.test_client()
    ReassortActions(phone).generate(path)
    assert shown_code(phone.get(CODE_SHOWN))
    link_row, notice_row = outbox_rows(app)
    assert link_row == ("sent", "email", None)  # payload erased after delivery
    assert notice_row[:2] == ("pending", "email")  # the notice to the academic address, for the worker

    found = everything(app, caplog)
    assert signed_in.subject in found  # the dump does see the voter's rows and events
    for form in (PERSONAL_EMAIL, PERSONAL_EMAIL.upper(), "camille.perso"):
        assert form not in found, f"{form!r} kept somewhere"


def test_sms_link_goes_through_the_gateway_and_the_number_is_kept_nowhere(
    app, client, signed_in, reassort, gateway, caplog
):
    caplog.set_level(logging.DEBUG)
    assert reassort.ask_code(channel="sms", phone=MOBILE_TYPED, email="").status_code == 200
    assert gateway.requests == []
    assert run_once(app) == 1
    [request] = gateway.requests
    assert request.authorised and request.form["To"] == "+262639985678" and request.form["From"] == "ELECTIONS"
    path = link_path_in(request.form["Body"])
    assert path.startswith("/reassort/code/lien/S") and "Générer un code" in request.form["Body"]

    ReassortActions(client).generate(path)
    assert shown_code(client.get(CODE_SHOWN))
    link_row, notice_row = outbox_rows(app)
    assert link_row == ("sent", "sms", None)
    assert notice_row[:2] == ("pending", "email")  # the notice to the academic address, for the worker

    found = everything(app, caplog)
    for form in MOBILE_FORMS:
        assert form not in found, f"{form!r} kept somewhere"


def test_a_failed_delivery_is_retried_and_the_link_still_arrives(app, client, signed_in, reassort, smtp):
    smtp.handler.fail_data = 1  # the relay answers 451 once
    assert reassort.ask_code().status_code == 200
    assert run_once(app) == 1 and smtp.received == []
    from idp.models import utcnow

    with get_db(app).transaction() as session:
        row = session.execute(select(OutboxMessage)).scalar_one()
        assert row.status == "pending" and row.attempts == 1
        row.next_attempt_at = utcnow()  # the backoff has elapsed
    assert run_once(app) == 1
    [received] = smtp.received
    assert "/reassort/code/lien/E" in received.message.get_content()
