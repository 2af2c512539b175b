"""SMS delivery through a Twilio-style HTTP gateway running on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from idp.delivery import Message
from idp.delivery.sms import to_e164
from idp.delivery.worker import run_once
from tests.delivery_servers import FICTION_LANDLINE, FICTION_MOBILE, SmsGateway, audit_events, outbox_row, queue

BODY = "Portail Élections : votre lien de réassort, valable 30 min : http://localhost/r/jeton-fictif"


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], gateway: SmsGateway) -> dict[str, Any]:
    return {**app_config, **gateway.config()}


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        (FICTION_LANDLINE, "+33199001234"),
        ("01.99.00.12.34", "+33199001234"),
        ("+33 1 99 00 12 34", "+33199001234"),
        ("+33 (0)1 99 00 12 34", "+33199001234"),
        ("0033 1 99 00 12 34", "+33199001234"),
        ("+33 01 99 00 12 34", "+33199001234"),
        (FICTION_MOBILE, "+262639981234"),  # Mayotte numbers are French but not +33
        ("0690 00 12 34", "+590690001234"),
        ("+32 470 12 34 56", "+32470123456"),
    ],
)
def test_numbers_are_normalised_to_e164(written, e164):
    assert to_e164(written) == e164


@pytest.mark.parametrize("written", ["", "12", "01 99 00 12", "+0 1234567", "06 39 98 12 34 56 78 90 12", "abc"])
def test_implausible_numbers_are_refused(written):
    with pytest.raises(ValueError):
        to_e164(written)


def test_sms_is_posted_to_the_gateway(app, gateway):
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY), purpose="reassort")

    assert run_once(app) == 1

    [request] = gateway.requests
    assert request.path == f"/2010-04-01/Accounts/{gateway.state.account_sid}/Messages.json"
    assert request.authorised
    assert request.form == {"To": "+33199001234", "From": "ELECTIONS", "Body": BODY}
    row = outbox_row(app, message_id)
    assert (row.status, row.payload) == ("sent", None)
    sent = audit_events(app)[-1]
    assert sent.type == "message.sent"
    assert json.loads(sent.data) == {"message_id": message_id, "channel": "sms", "purpose": "reassort", "attempts": 1}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, "pending"),
        (503, "pending"),
        (429, "pending"),
        (401, "pending"),
        (400, "failed"),
        (404, "failed"),
    ],
)
def test_gateway_errors_are_temporary_or_permanent(app, gateway, status, outcome):
    gateway.state.replies.append(status)
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY))

    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert row.status == outcome
    assert row.last_error == f"SMS gateway HTTP {status}"
    assert (row.payload is None) == (outcome == "failed")
    assert audit_events(app)[-1].type == ("message.retry" if outcome == "pending" else "message.failed")


def test_retried_sms_goes_out_on_a_later_run(app, gateway):
    app.config["DELIVERY_RETRY_BASE"] = 0  # due again at once
    gateway.state.replies.append(500)
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY))

    assert run_once(app) == 1  # 500: rescheduled, and not retried within the same run
    assert outbox_row(app, message_id).status == "pending"
    assert run_once(app) == 1
    assert outbox_row(app, message_id).status == "sent"
    assert len(gateway.requests) == 2


def test_wrong_credentials_are_not_counted_as_sent(app, gateway):
    app.config["SMS_AUTH_TOKEN"] = "not-the-token"
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY))

    run_once(app)
    assert not gateway.requests[0].authorised
    assert outbox_row(app, message_id).status == "pending"


def test_gateway_timeout_is_temporary(app, gateway):
    app.config["SMS_TIMEOUT"] = 0.2
    gateway.state.delay = 1.0
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY))

    run_once(app)
    row = outbox_row(app, message_id)
    assert (row.status, row.last_error) == ("pending", "SMS gateway ReadTimeout (may have been sent)")


def test_success_without_message_sid_is_not_trusted(app, gateway):
    gateway.state.omit_sid = True
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY))

    run_once(app)
    row = outbox_row(app, message_id)
    assert (row.status, row.last_error) == ("pending", "SMS gateway HTTP 200 without a message sid")


def test_invalid_number_fails_without_calling_the_gateway(app, gateway):
    [message_id] = queue(app, Message("sms", "pas un numéro", "", BODY))

    run_once(app)
    assert gateway.requests == []
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.last_error) == ("failed", None, "invalid phone number")
