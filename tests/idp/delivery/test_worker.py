"""The delivery worker: claims with leases, several workers at once, recovery after a crash, payload erasure and
audit events. Deliveries are counted at a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from idp.db import get_db
from idp.delivery import Message
from idp.delivery.worker import DeliveryWorker, run_forever, run_once
from idp.models import OutboxMessage, utcnow
from tests.delivery_servers import SmtpServer, audit_events, outbox_row, queue, update_row, wait_for

RECIPIENT = "dominique.fictif@ac-exemple.fr"
LINK = "http://localhost/activation/jeton-fictif-0123456789"


def email(recipient: str = RECIPIENT, n: int = 0) -> Message:
    return Message("email", recipient, f"Portail Élections : message {n}", f"Bonjour,\n\n{LINK}\n")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpServer) -> dict[str, Any]:
    return {**app_config, **smtp.config()}


def test_payload_is_erased_once_sent(app, smtp):
    [message_id] = queue(app, email())
    assert outbox_row(app, message_id).payload is not None

    assert run_once(app) == 1

    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.lease_until, row.last_error) == ("sent", None, None, None)
    assert row.sent_at is not None and abs(row.sent_at - utcnow()) < dt.timedelta(minutes=1)
    assert len(smtp.received) == 1
    assert run_once(app) == 0  # nothing left to do, nothing sent twice
    assert len(smtp.received) == 1


def test_audit_events_never_hold_the_recipient(app, smtp):
    smtp.handler.fail_data = 1
    [sent_id] = queue(app, email())
    smtp.handler.unknown_recipients.add("inconnu.fictif@ac-exemple.fr")
    [failed_id] = queue(app, email("inconnu.fictif@ac-exemple.fr"))
    run_once(app)  # first: 451 (retry); second: 550 (failed)
    update_row(app, sent_id, next_attempt_at=utcnow())
    run_once(app)

    events = audit_events(app)
    assert sorted(e.type for e in events) == sorted(
        ["message.queued", "message.queued", "message.retry", "message.failed", "message.sent"]
    )
    for event in events:
        assert "ac-exemple.fr" not in event.data and "ac-exemple.fr" not in (event.subject or "")
        assert "jeton-fictif" not in event.data
    outcomes = {e.type: json.loads(e.data) for e in events if e.type != "message.queued"}
    assert outcomes["message.sent"] == {
        "message_id": sent_id,
        "channel": "email",
        "purpose": "activation",
        "attempts": 2,
    }
    assert outcomes["message.failed"]["message_id"] == failed_id
    assert outcomes["message.failed"]["reason"] == "SMTP recipient refused 550"


def test_expired_lease_of_a_crashed_worker_is_taken_over(app, smtp):
    [message_id] = queue(app, email())
    with app.app_context():
        crashed = DeliveryWorker(app)
        claim = crashed.claim(utcnow())  # ... and the worker dies before sending
    assert claim is not None and claim.id == message_id

    assert run_once(app) == 0  # its lease is still running: nobody else may take the message
    assert smtp.received == []

    update_row(app, message_id, lease_until=utcnow() - dt.timedelta(seconds=1))  # the lease runs out
    assert run_once(app) == 1
    assert len(smtp.received) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.attempts, row.payload) == ("sent", 2, None)

    # Had the first worker only stalled, its late outcome is not recorded over the other worker's.
    with app.app_context():
        crashed.deliver(claim)
    assert [e.type for e in audit_events(app)].count("message.sent") == 1
    assert outbox_row(app, message_id).attempts == 2


def test_message_whose_last_attempt_crashed_is_abandoned(app, smtp):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 1
    [message_id] = queue(app, email())
    with app.app_context():
        assert DeliveryWorker(app).claim(utcnow()) is not None
    update_row(app, message_id, lease_until=utcnow() - dt.timedelta(seconds=1))

    assert run_once(app) == 1
    row = outbox_row(app, message_id)
    assert (row.status, row.payload, row.last_error) == ("failed", None, "attempts exhausted")
    assert smtp.received == []


def test_two_concurrent_workers_send_each_message_exactly_once(app, smtp):
    smtp.handler.delay = 0.005  # each send takes a moment, so the workers overlap
    recipients = [f"electeur.fictif{n:02d}@ac-exemple.fr" for n in range(50)]
    ids = queue(app, *(email(r, n) for n, r in enumerate(recipients)))
    barrier = threading.Barrier(2)
    handled: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            handled.append(run_once(app))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(handled) == 50
    delivered = sorted(r for received in smtp.received for r in received.rcpt_tos)
    assert delivered == recipients  # every message once, none twice
    with get_db(app).transaction() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.payload)).all()
    assert set(rows) == {("sent", 1, None)}
    sent = [json.loads(e.data)["message_id"] for e in audit_events(app) if e.type == "message.sent"]
    assert sorted(sent) == sorted(ids)


def test_backoff_doubles_up_to_the_cap(app):
    app.config.update(DELIVERY_RETRY_BASE=15, DELIVERY_RETRY_MAX=600)
    with app.app_context():
        worker = DeliveryWorker(app)
    assert [worker.retry_delay(n) for n in range(1, 8)] == [15, 30, 60, 120, 240, 480, 600]


def test_run_forever_delivers_until_stopped(app, smtp):
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, 0.05), kwargs={"stop": stop})
    thread.start()
    try:
        queue(app, email())
        assert wait_for(lambda: len(smtp.received) == 1)
        queue(app, email("camille.fictif@ac-exemple.fr"))
        assert wait_for(lambda: len(smtp.received) == 2)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
