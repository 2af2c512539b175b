"""Delivery when the operators fail: an SMTP relay down then back, an SMS gateway answering 500, then not in time,
then slowly, a worker ``kill -9``-ed mid-send. Messages wait in the outbox, leave oldest first once the relay is
back, each attempt is bounded in time, a message is delivered or failed by its deadline, and every possible second
copy is counted (``possible_duplicate`` in its ``message.sent`` event). Real servers on 127.0.0.1 throughout."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from idp import create_app
from idp.config import ConfigError
from idp.delivery import Message
from idp.delivery.worker import run_once
from idp.models import utcnow
from tests.delivery_servers import (
    FICTION_LANDLINE,
    SmsGateway,
    SmtpServer,
    audit_events,
    free_port,
    outbox_row,
    queue,
    update_row,
    wait_for,
)

BODY = "Portail Élections : votre lien de réassort, valable 30 min : http://localhost/r/jeton-fictif"


def email(n: int) -> Message:
    return Message("email", f"electeur.fictif{n}@ac-exemple.fr", f"Portail Élections : message {n}", "Bonjour.\n")


def sent_events(app: Flask) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in audit_events(app) if event.type == "message.sent"]


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with SmsGateway() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], gateway: SmsGateway) -> dict[str, Any]:
    # SMTP on a port where the relay will be: down first (nothing listens), then back (SmtpServer(port=...)).
    relay = {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_TIMEOUT": 5}
    return {**app_config, **relay, **gateway.config(), "SMS_TIMEOUT": 1}


def test_mail_waits_for_the_relay_and_leaves_oldest_first_as_soon_as_it_is_back(app: Flask) -> None:
    ids = queue(app, *(email(n) for n in range(3)))
    assert run_once(app) == 3  # the relay is down: each is rescheduled, none lost
    for message_id in ids:
        row = outbox_row(app, message_id)
        assert (row.status, row.last_error) == ("pending", "SMTP ConnectionRefusedError")
    # Minutes into the outage, each retry waits a minute at most (IDP_DELIVERY_RETRY_MAX), not an hour.
    for n, message_id in enumerate(ids):
        update_row(app, message_id, attempts=5, next_attempt_at=utcnow() + dt.timedelta(seconds=60 - 20 * n))
    update_row(app, ids[2], next_attempt_at=utcnow())  # the first retry due after the relay's return
    with SmtpServer(port=int(app.config["SMTP_PORT"])) as relay:
        started = time.monotonic()
        assert run_once(app) == 3, "the first one through brought the others forward, in this very round"
        took = time.monotonic() - started
        subjects = [received.message["Subject"] for received in relay.received]
    assert subjects == [f"Portail Élections : message {n}" for n in (2, 0, 1)]
    assert took < 5
    assert all(outbox_row(app, message_id).status == "sent" for message_id in ids)


def test_a_retry_already_due_keeps_its_place_among_those_brought_forward(app: Flask) -> None:
    ids = queue(app, *(email(n) for n in range(3)))
    assert run_once(app) == 3  # the relay is down: each is rescheduled
    now = utcnow()
    for n, message_id in enumerate(ids):  # message 0 queued first, 4 minutes before message 2
        update_row(app, message_id, created_at=now - dt.timedelta(seconds=300 - 60 * n))
    update_row(app, ids[2], next_attempt_at=now - dt.timedelta(seconds=30))  # the first retry due: goes through
    update_row(app, ids[0], next_attempt_at=now - dt.timedelta(seconds=10))  # due too, but after message 1's birth
    update_row(app, ids[1], next_attempt_at=now + dt.timedelta(seconds=60))  # brought forward
    with SmtpServer(port=int(app.config["SMTP_PORT"])) as relay:
        assert run_once(app) == 3
        subjects = [received.message["Subject"] for received in relay.received]
    assert subjects == [f"Portail Élections : message {n}" for n in (2, 0, 1)], "oldest first after the first"


def test_the_backoff_is_capped_at_a_minute(app: Flask) -> None:
    [message_id] = queue(app, email(1))
    update_row(app, message_id, attempts=9)
    run_once(app)
    wait = outbox_row(app, message_id).next_attempt_at - utcnow()
    assert dt.timedelta(seconds=55) < wait <= dt.timedelta(seconds=60)


def test_sms_gateway_failing_then_not_answering_then_slow(app: Flask, gateway: SmsGateway) -> None:
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY), purpose="reassort_link")

    gateway.state.replies = [500]
    run_once(app)
    assert outbox_row(app, message_id).last_error == "SMS gateway HTTP 500"

    gateway.state.delay = 3  # no answer within IDP_SMS_TIMEOUT (1 s here)
    update_row(app, message_id, next_attempt_at=utcnow())
    started = time.monotonic()
    run_once(app)
    assert time.monotonic() - started < 2.5, "the attempt is bounded by the timeout, not the gateway"
    row = outbox_row(app, message_id)
    assert (row.status, row.last_error) == ("pending", "SMS gateway ReadTimeout (may have been sent)")

    gateway.state.delay = 0.5  # slow, but in time
    update_row(app, message_id, next_attempt_at=utcnow())
    run_once(app)
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts, row.payload) == ("sent", 3, None)
    assert len(gateway.requests) == 3
    # The gateway may have taken the message during the attempt that timed out: counted, not hidden.
    [sent] = sent_events(app)
    assert sent["possible_duplicate"] is True


def test_a_message_still_failing_past_its_deadline_is_abandoned(app: Flask, gateway: SmsGateway) -> None:
    [message_id] = queue(app, Message("sms", FICTION_LANDLINE, "", BODY), purpose="reassort_link")
    update_row(app, message_id, created_at=utcnow() - dt.timedelta(seconds=int(app.config["DELIVERY_DEADLINE"])))
    gateway.state.replies = [503]
    run_once(app)
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.last_error) == ("failed", None, "SMS gateway HTTP 503")
    failed = [json.loads(event.data) for event in audit_events(app) if event.type == "message.failed"]
    assert failed == [
        {
            "message_id": message_id,
            "channel": "sms",
            "purpose": "reassort_link",
            "attempts": 1,
            "reason": "SMS gateway HTTP 503",
        }
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DELIVERY_LEASE": 14, "SMTP_TIMEOUT": 10, "SMS_TIMEOUT": 5}, "IDP_DELIVERY_LEASE must be at least 15"),
        ({"DELIVERY_LEASE": 17, "SMTP_TIMEOUT": 10, "SMS_TIMEOUT": 10}, "IDP_DELIVERY_LEASE must be at least 18"),
    ],
)
def test_a_lease_shorter_than_a_send_is_refused(app_config: dict[str, Any], overrides: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message):
        create_app({**app_config, **overrides})


def test_a_worker_killed_mid_send_its_message_goes_out_after_the_lease_counted(
    app: Flask, app_config: dict[str, Any]
) -> None:
    """``kill -9`` while the message is being handed over: nobody knows whether the relay kept it. Another worker
    sends it once the lease has run out (10 s here), and the event says it may be a second copy."""
    lease = 10
    settings = {**app_config, "DELIVERY_LEASE": lease, "SMTP_TIMEOUT": 5, "SMS_TIMEOUT": 1}
    env = {
        **os.environ,
        **{
            f"IDP_{name}": str(value)
            for name, value in settings.items()
            if isinstance(value, str | int | float) and not isinstance(value, bool) and name.isupper()
        },
    }
    with SmtpServer(port=int(app.config["SMTP_PORT"])) as relay:
        relay.handler.delay = 2  # DATA answered after 2 s: the worker is killed meanwhile
        [message_id] = queue(app, email(1))
        command = [str(Path(sys.executable).parent / "idp"), "deliver", "--interval", "0.2"]
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for(lambda: relay.handler.data_started == 1, 30)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
        killed = time.monotonic()
        relay.handler.delay = 0
        assert run_once(app) == 0, "leased: nobody else may take it yet"
        assert wait_for(lambda: run_once(app) == 1, lease + 5)
        waited = time.monotonic() - killed
        # This relay (aiosmtpd) drops a message whose sender vanished mid-DATA; a real one may have kept it.
        assert len(relay.received) == 1
    assert waited <= lease + 1, "the message waited for the lease, not minutes"
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    [sent] = sent_events(app)
    assert sent["possible_duplicate"] is True
