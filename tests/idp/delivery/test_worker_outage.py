"""The IdP's delivery worker through a database outage (SQLite's lock held, or a PostgreSQL cluster of the test's
own stopped): it logs, waits, goes on, and delivers what is queued once the database is back. Deliveries are
counted at a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from idp.delivery import Message
from idp.delivery.worker import run_forever
from tests.delivery_servers import SmtpServer, audit_events, outbox_row, queue, wait_for
from tests.outages import OutageDatabase, cluster_directory, failed_rounds, outage_database, private_cluster

__all__ = ["cluster_directory", "outage_database", "private_cluster"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpServer, outage_database: OutageDatabase) -> dict[str, Any]:
    return {**app_config, **smtp.config(), "DATABASE_URL": outage_database.url}


def email(n: int) -> Message:
    return Message("email", f"electeur.fictif{n}@ac-exemple.fr", f"Portail Élections : message {n}", "Bonjour.\n")


def test_the_worker_outlives_a_database_outage_and_delivers_afterwards(
    app: Flask, smtp: SmtpServer, outage_database: OutageDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="infra.worker")
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, 0.1), kwargs={"stop": stop})
    thread.start()
    try:
        [first] = queue(app, email(1))
        assert wait_for(lambda: outbox_row(app, first).status == "sent")
        outage_database.begin()
        assert wait_for(lambda: failed_rounds(caplog.records, "delivery worker") >= 2, 20), "no failed round"
        assert thread.is_alive(), "the worker did not die of the outage"
        outage_database.end()
        queue(app, email(2))
        assert wait_for(lambda: len(smtp.received) == 2, 15), "nothing delivered after the outage"
        assert wait_for(lambda: any("working again" in record.getMessage() for record in caplog.records))
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    for record in caplog.records:
        assert "electeur.fictif" not in record.getMessage(), "no recipient in the log"


def test_an_outage_right_after_the_hand_over_is_waited_out_without_a_second_copy(
    app: Flask, smtp: SmtpServer, outage_database: OutageDatabase
) -> None:
    """The relay took the message, then the database went away before the outcome was written: the worker waits
    for the database within its lease and records the outcome, so that nobody sends the message again."""
    smtp.handler.delay = 0.5  # the outage starts while the message is being handed over
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app, 0.1), kwargs={"stop": stop})
    [message_id] = queue(app, email(1))
    thread.start()
    try:
        assert wait_for(lambda: smtp.handler.data_started >= 1, 10)
        outage_database.begin()
        assert wait_for(lambda: len(smtp.received) == 1, 10)
        threading.Event().wait(2)  # the outcome cannot be written meanwhile
        outage_database.end()
        assert wait_for(lambda: outbox_row(app, message_id).status == "sent", 20)
    finally:
        stop.set()
        thread.join(30)
    assert len(smtp.received) == 1, "sent once"
    sent = [event for event in audit_events(app) if event.type == "message.sent"]
    assert len(sent) == 1 and "possible_duplicate" not in sent[0].data
