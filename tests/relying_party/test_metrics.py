"""The portal's metrics move with their events: the waiting room, the portal's outbox and its deliveries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client import generate_latest
from sqlalchemy import update

from infra import metrics
from relying_party import metrics as portal_metrics
from relying_party.db import get_db
from relying_party.models import OutboxMessage, utcnow
from tests.delivery_servers import SmtpServer
from tests.metrics_helpers import scraped, value
from tests.relying_party.test_outbox import _ask_for_help, _deliver


def test_the_waiting_room_counts_who_waits_and_who_is_admitted(make_portal: Callable[..., Flask]) -> None:
    app = make_portal(WAITING_ROOM_CAPACITY=1)
    admitted, held = value("elections_waiting_room_admitted_total"), value("elections_waiting_room_held_total")
    first, second, third = app.test_client(), app.test_client(), app.test_client()
    assert first.get("/connexion").status_code == 302
    assert value("elections_waiting_room_admitted_total") == admitted + 1
    assert second.get("/connexion").status_code == 200
    assert third.get("/connexion").status_code == 200
    assert value("elections_waiting_room_held_total") == held + 2
    assert value("elections_waiting_room_queue") == 2
    assert value("elections_waiting_room_in_progress") == 1


def test_the_portal_outbox_its_depth_age_and_deliveries(app: Flask, client, monkeypatch: pytest.MonkeyPatch) -> None:
    collector = portal_metrics.outbox_collector(get_db(app))

    def outbox(name: str) -> float:
        text = generate_latest(metrics.scrape_registry([collector])).decode()
        return scraped(text, name, app="portal", channel="email")

    def delivered(outcome: str) -> float:
        return value("elections_deliveries_total", app="portal", channel="email", outcome=outcome)

    retried, sent = delivered("retried"), delivered("sent")
    assert outbox("elections_outbox_messages") == 0
    _ask_for_help(client)
    with get_db(app).transaction() as session:
        session.execute(update(OutboxMessage).values(created_at=utcnow() - dt.timedelta(minutes=5)))
    assert outbox("elections_outbox_messages") == 1
    assert outbox("elections_outbox_oldest_age_seconds") >= 300
    with SmtpServer() as smtp:
        smtp.handler.fail_data = 1
        _deliver(app, smtp, monkeypatch)
        assert delivered("retried") == retried + 1
        with get_db(app).transaction() as session:
            session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        _deliver(app, smtp, monkeypatch)
    assert delivered("sent") == sent + 1
    assert outbox("elections_outbox_messages") == 0
    assert outbox("elections_outbox_oldest_age_seconds") == 0
