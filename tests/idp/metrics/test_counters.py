"""Each of the IdP's metric families moves when its event happens, and only when its transaction commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from prometheus_client import generate_latest

from idp import metrics as idp_metrics
from idp.audit import record
from idp.db import get_db
from idp.delivery import Message
from idp.delivery.worker import run_once
from idp.oidc.backchannel import LogoutNotifier, backchannel_collector
from infra import metrics
from tests.delivery_servers import SmtpServer, queue, update_row
from tests.helpers import AuthActions, VoterFactory
from tests.metrics_helpers import scraped, value
from tests.oidc_helpers import make_client, make_service_client

pytest_plugins = ["tests.oidc_fixtures"]

RECIPIENT = "dominique.fictif@ac-exemple.fr"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpServer) -> dict[str, Any]:
    return {
        **app_config,
        **smtp.config(),
        "LOCKOUT_THRESHOLD": 3,
        "IP_FAILURE_THRESHOLD": 50,
        "SERVICE_SCOPES": "scrutins:lecture participation:lecture",
    }


def computed(collector: metrics.ScrapeCollector) -> str:
    return generate_latest(metrics.scrape_registry([collector])).decode()


def test_sign_ins_and_lockouts(app: Flask, voters: VoterFactory, auth: AuthActions) -> None:
    voter = voters.create()
    started = value("elections_signins_started_total", method="password")
    failed = value("elections_signins_failed_total", reason="password")
    locked_out = value("elections_signins_failed_total", reason="locked")
    locks = value("elections_lockouts_total", kind="password", scope="identifier")
    for _ in range(3):
        assert auth.login(voter.identifier, "wrong password 0001").status_code == 401
    assert value("elections_signins_started_total", method="password") == started + 3
    assert value("elections_signins_failed_total", reason="password") == failed + 3
    assert value("elections_lockouts_total", kind="password", scope="identifier") == locks + 1
    assert auth.login(voter.identifier).status_code == 401  # locked: even the right password waits
    assert value("elections_signins_failed_total", reason="locked") == locked_out + 1


def test_an_event_rolled_back_is_not_counted(app: Flask) -> None:
    succeeded = value("elections_signins_succeeded_total", method="password")
    with app.app_context():
        session = get_db(app).sessionmaker()
        with session.begin():
            record(session, "login.succeeded", subject="pseudo-ref-test")
            session.rollback()
        assert value("elections_signins_succeeded_total", method="password") == succeeded
        with session.begin():
            record(session, "login.succeeded", subject="pseudo-ref-test")
        session.close()
    assert value("elections_signins_succeeded_total", method="password") == succeeded + 1


def test_deliveries_by_outcome_and_the_outbox_depth_and_age(app: Flask, smtp: SmtpServer) -> None:
    def delivered(outcome: str) -> float:
        return value("elections_deliveries_total", app="idp", channel="email", outcome=outcome)

    sent, retried, failed = delivered("sent"), delivered("retried"), delivered("failed")
    collector = idp_metrics.outbox_collector(app)
    assert scraped(computed(collector), "elections_outbox_messages", app="idp", channel="email") == 0
    assert scraped(computed(collector), "elections_outbox_messages", app="idp", channel="sms") == 0

    smtp.handler.fail_data = 1
    unknown = "inconnu.fictif@ac-exemple.fr"
    smtp.handler.unknown_recipients.add(unknown)
    first, second = queue(
        app, Message("email", RECIPIENT, "Objet", "Corps"), Message("email", unknown, "Objet", "Corps")
    )
    for message_id in (first, second):
        update_row(app, message_id, created_at=metrics.utcnow() - dt.timedelta(minutes=3))
    text = computed(collector)
    assert scraped(text, "elections_outbox_messages", app="idp", channel="email") == 2
    assert 180 <= scraped(text, "elections_outbox_oldest_age_seconds", app="idp", channel="email") < 240

    run_once(app)  # first: 451, retried; second: 550, abandoned
    assert (delivered("retried"), delivered("failed")) == (retried + 1, failed + 1)
    assert scraped(computed(collector), "elections_outbox_messages", app="idp", channel="email") == 1
    update_row(app, first, next_attempt_at=metrics.utcnow())
    run_once(app)
    assert delivered("sent") == sent + 1
    text = computed(collector)
    assert scraped(text, "elections_outbox_messages", app="idp", channel="email") == 0
    assert scraped(text, "elections_outbox_oldest_age_seconds", app="idp", channel="email") == 0
    assert RECIPIENT not in text and unknown not in text


def test_token_grants_by_type_and_client(app: Flask, flow: Any, voters: VoterFactory) -> None:
    rp = make_client(app)
    codes = value("elections_token_grants_total", grant_type="authorization_code", client_id=rp.client_id)
    refreshes = value("elections_token_grants_total", grant_type="refresh_token", client_id=rp.client_id)
    tokens = flow.tokens(rp, voters.create())
    assert value("elections_token_grants_total", grant_type="authorization_code", client_id=rp.client_id) == codes + 1
    assert flow.refresh(rp, tokens["refresh_token"]).status_code == 200
    assert value("elections_token_grants_total", grant_type="refresh_token", client_id=rp.client_id) == refreshes + 1
    bad = flow.token_request(rp, {"grant_type": "authorization_code", "code": "nope", "redirect_uri": rp.redirect_uri})
    assert bad.status_code == 400
    assert value("elections_token_grants_total", grant_type="authorization_code", client_id=rp.client_id) == codes + 1


def test_back_channel_notices_and_backlog(app: Flask, flow: Any, voters: VoterFactory, logout_receiver: Any) -> None:
    def notices(outcome: str) -> float:
        return value("elections_backchannel_notices_total", outcome=outcome)

    queued, sent = notices("queued"), notices("sent")
    collector = backchannel_collector(app)
    client = make_client(app, backchannel_logout_uri=logout_receiver.uri)
    tokens = flow.tokens(client, voters.create())
    assert flow.client.get("/logout/end", query_string={"id_token_hint": tokens["id_token"]}).status_code == 200
    assert notices("queued") == queued + 1
    assert scraped(computed(collector), "elections_backchannel_pending", app="idp") == 1
    assert LogoutNotifier(app).drain() == 1
    assert notices("sent") == sent + 1
    assert scraped(computed(collector), "elections_backchannel_pending", app="idp") == 0


def test_a_services_client_credentials_grant_is_counted_as_such(app: Flask, flow: Any) -> None:
    service = make_service_client(app, "scrutins:lecture", client_name="Service des résultats")
    before = value("elections_token_grants_total", grant_type="client_credentials", client_id=service.client_id)
    response = flow.token_request(service, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert value("elections_token_grants_total", grant_type="client_credentials", client_id=service.client_id) == (
        before + 1
    )
