"""The portal's workers through a database outage (SQLite's lock held, or a PostgreSQL cluster of the test's own
stopped): ``portal deliver --loop`` and ``portal election mix --loop`` log, wait, go on, and do their work once the
database is back; and the mail worker sends what waited during an SMTP outage as soon as the relay is back."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from relying_party.db import get_db
from relying_party.models import Ballot, OutboxMessage, utcnow
from relying_party.outbox.queue import enqueue
from relying_party.outbox.sender import deliver_due
from relying_party.outbox.sender import run_forever as run_mail_worker
from relying_party.voting.mixing import run_forever as run_mixer
from tests.delivery_servers import SmtpServer, wait_for
from tests.outages import (
    OutageDatabase,
    cluster_directory,
    failed_rounds,
    portal_outage_database,
    private_cluster,
)
from tests.relying_party.helpers import list_ids
from tests.relying_party.test_audit import VOTERS, open_scrutin_with_voters
from tests.relying_party.voting import cast_choice

__all__ = ["cluster_directory", "portal_outage_database", "private_cluster"]


@pytest.fixture
def portal_config(portal_config: dict[str, Any], portal_outage_database: OutageDatabase) -> dict[str, Any]:
    return {**portal_config, "DATABASE_URL": portal_outage_database.url}


def queue_mail(app: Flask, n: int) -> None:
    with get_db(app).transaction() as session:
        enqueue(session, recipient="assistance@exemple.fr", subject=f"Demande {n}", body="Bonjour.")


def in_thread(target: Callable[..., None], *args: Any, **kwargs: Any) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=target, args=args, kwargs={**kwargs, "stop": stop})
    thread.start()
    return thread, stop


def test_the_mail_worker_outlives_a_database_outage(
    app: Flask, portal_outage_database: OutageDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="infra.worker")
    with SmtpServer() as smtp:
        config = {**app.config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port}
        thread, stop = in_thread(run_mail_worker, get_db(app), config, 0.1)
        try:
            portal_outage_database.begin()
            assert wait_for(lambda: failed_rounds(caplog.records, "portal mail worker") >= 2, 20)
            assert thread.is_alive()
            portal_outage_database.end()
            queue_mail(app, 1)
            assert wait_for(lambda: len(smtp.received) == 1, 15), "nothing sent after the outage"
        finally:
            stop.set()
            thread.join(10)


def test_the_mixer_outlives_a_database_outage(
    app: Flask, portal_outage_database: OutageDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="infra.worker")
    target = open_scrutin_with_voters(app)
    thread, stop = in_thread(run_mixer, get_db(app), 0.1)
    try:
        portal_outage_database.begin()
        assert wait_for(lambda: failed_rounds(caplog.records, "ballot box mixer") >= 2, 20)
        assert thread.is_alive()
        portal_outage_database.end()
        lists = list_ids(app, "AUDIT")
        for voter in list(VOTERS)[:2]:
            cast_choice(app, scrutin_id=target, voter_identifier=voter, candidate_list_id=lists[0], now=utcnow())

        def all_mixed() -> bool:
            with get_db(app).reader() as session:
                return session.execute(select(func.count()).where(Ballot.mixed.is_(False))).scalar_one() == 0

        assert wait_for(all_mixed, 15), "nothing mixed after the outage"
    finally:
        stop.set()
        thread.join(10)


def test_mail_that_waited_for_the_relay_leaves_oldest_first_as_soon_as_it_is_back(app: Flask) -> None:
    with SmtpServer() as smtp:
        port = smtp.port
        config = {**app.config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port}
    for n in range(3):
        queue_mail(app, n)
    report = deliver_due(get_db(app), config)  # the relay is down: each waits
    assert (report.sent, report.retried) == (0, 3)
    with get_db(app).transaction() as session:
        # Later retries of an outage: each message waits up to a minute, the last queued the soonest due.
        for n, message_id in enumerate(sorted(session.execute(select(OutboxMessage.id)).scalars())):
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(attempts=4, next_attempt_at=utcnow() + dt.timedelta(seconds=60 - 20 * n))
            )
        first = session.execute(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())).scalars().first()
        session.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(next_attempt_at=utcnow()))
    with SmtpServer(port=port) as smtp:
        report = deliver_due(get_db(app), config)
        subjects = [received.message["Subject"] for received in smtp.received]
    # The retry that went through brought the others forward, in the order they were queued.
    assert report.sent == 3
    assert subjects == ["Demande 2", "Demande 0", "Demande 1"]
